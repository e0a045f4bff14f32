"""What the offline commands read and change in an open profile, without a running service.

`settings`, `history` and `send`'s look at the joined rooms work on the profile alone
(`service.profiles.open_profile`); these functions are their way into it, each one read
snapshot or one unit of work. The rows are the ones the running service reads and writes.
"""

from __future__ import annotations

from collections.abc import Iterable

from tui_omemo.config import Settings
from tui_omemo.service.app_service import SETTINGS_KEY
from tui_omemo.service.muc import room_key
from tui_omemo.store import ArchivedMessage, Database, Direction, UnitOfWork

__all__ = [
    "ArchivedMessage",
    "Direction",
    "change_setting",
    "joined_rooms",
    "messages_after",
    "newest_messages",
    "search_messages",
    "stored_settings",
]


def stored_settings(database: Database) -> Settings:
    """The settings kept in the profile (the defaults when none were stored).

    Raises:
        ValueError: the stored settings are unreadable.
    """
    with database.snapshot() as uow:
        return _stored(uow)


def change_setting(database: Database, key: str, value: str) -> Settings:
    """Change the setting `key` to `value` (as typed) in the profile; the new settings.

    Raises:
        ValueError: an unknown key, a value that does not parse or is out of range, or stored
            settings that are unreadable (nothing is changed).
    """
    with database.unit_of_work() as uow:
        updated = _stored(uow).with_value(key, value)
        uow.settings.set(SETTINGS_KEY, updated.to_json())
    return updated


def _stored(uow: UnitOfWork) -> Settings:
    stored = uow.settings.get(SETTINGS_KEY)
    if not isinstance(stored, dict):
        return Settings()
    try:
        return Settings.from_json(stored)
    except ValueError as error:
        raise ValueError(f"the stored settings are unreadable ({error})") from None


def joined_rooms(database: Database, jids: Iterable[str]) -> list[str]:
    """Those of `jids` that are rooms this profile has joined, in the given order."""
    with database.snapshot() as uow:
        return [jid for jid in jids if uow.settings.get(room_key(jid))]


def messages_after(
    database: Database, after: int, peer: str | None, limit: int
) -> list[ArchivedMessage]:
    """At most `limit` messages archived after archive id `after` (all chats, or `peer`'s),
    in archive order."""
    with database.snapshot() as uow:
        return uow.archive.after(after, peer=peer, limit=limit)


def search_messages(
    database: Database, text: str, peer: str | None, limit: int
) -> list[ArchivedMessage]:
    """The newest `limit` messages matching `text` (all chats, or `peer`'s), oldest first."""
    with database.snapshot() as uow:
        found = uow.archive.search(text, peer=peer, limit=limit)
    return [hit.message for hit in reversed(found)]


def newest_messages(database: Database, peer: str, limit: int) -> list[ArchivedMessage]:
    """The newest `limit` messages with `peer`, oldest first (in archive order)."""
    with database.snapshot() as uow:
        return list(reversed(uow.archive.page(peer, limit=limit).messages))
