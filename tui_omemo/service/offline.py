"""What the commands read and change in an open profile without a running service.

`settings` and `send`'s look at the joined rooms work on the profile alone (opened by
`commands.profile.open_database`); these functions are their way into it, each one read
snapshot or one unit of work, on the rows the running service reads and writes. `ArchivedMessage`
is re-exported for `listen`, which prints archive rows.
"""

from __future__ import annotations

from collections.abc import Iterable

from tui_omemo.config import Settings
from tui_omemo.service.app_service import SETTINGS_KEY
from tui_omemo.service.muc import room_key
from tui_omemo.store import ArchivedMessage, Database, UnitOfWork

__all__ = ["ArchivedMessage", "change_setting", "joined_rooms", "stored_settings"]


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
