"""The roster cache: what the server last told us about contacts, for a fast start-up."""

from __future__ import annotations

import json
from collections.abc import Iterable

from tui_omemo.store.records import RosterItem
from tui_omemo.store.sql import Connection


class Roster:
    """Repository over the ``roster`` table."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def upsert(self, item: RosterItem) -> None:
        """Insert or update one contact."""
        self._connection.execute(
            "INSERT INTO roster (bare_jid, name, subscription, groups) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (bare_jid) DO UPDATE SET name = excluded.name, "
            "subscription = excluded.subscription, groups = excluded.groups",
            (item.bare_jid, item.name, item.subscription, json.dumps(list(item.groups))),
        )

    def replace_all(self, items: Iterable[RosterItem]) -> None:
        """Replace the whole cache with a freshly fetched roster."""
        self._connection.execute("DELETE FROM roster")
        for item in items:
            self.upsert(item)

    def remove(self, bare_jid: str) -> bool:
        """Drop one contact. Returns False when it was not cached."""
        cursor = self._connection.execute("DELETE FROM roster WHERE bare_jid = ?", (bare_jid,))
        return cursor.rowcount > 0

    def all(self) -> list[RosterItem]:
        """Every cached contact, ordered by bare JID."""
        rows = self._connection.execute(
            "SELECT bare_jid, name, subscription, groups FROM roster ORDER BY bare_jid"
        ).fetchall()
        return [RosterItem(row[0], row[1], row[2], tuple(json.loads(row[3]))) for row in rows]
