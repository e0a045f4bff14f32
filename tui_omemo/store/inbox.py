"""The inbox: incoming stanzas kept as ciphertext until they are processed (DESIGN.md §3.1).

A stanza is added before decryption is attempted and deleted in the same unit of work that
archives its plaintext, so a crash in between leaves it here to be retried at start-up.
"""

from __future__ import annotations

from tui_omemo.model import Arrival
from tui_omemo.store.records import InboxItem
from tui_omemo.store.sql import Connection

_MAX_ERROR_LENGTH = 500
_COLUMN = {
    Arrival.LIVE: "live",
    Arrival.OFFLINE: "offline",
    Arrival.CARBON_RECEIVED: "carbon",
    Arrival.CARBON_SENT: "carbon",
    Arrival.MAM: "mam",
}
"""The `source` column's words (schema 1 checks them: live, carbon, mam, offline)."""
_ARRIVAL = {
    "live": Arrival.LIVE,
    "offline": Arrival.OFFLINE,
    "carbon": Arrival.CARBON_RECEIVED,
    "mam": Arrival.MAM,
}
"""Read back: the column does not tell a sent carbon from a received one (the stanza does,
`service.ports.Inbound.from_bytes`); `carbon` reads as CARBON_RECEIVED."""

_SELECT = "SELECT id, received_at, source, stanza, attempts, last_error FROM inbox "


class Inbox:
    """Repository over the ``inbox`` table."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, stanza: bytes, source: Arrival, received_at: int) -> int:
        """Keep a raw stanza for processing (`source`: how it arrived; the column keeps the
        words of schema 1, `carbon` for both directions).

        Returns:
            The inbox id to delete once the stanza has been handled.
        """
        cursor = self._connection.execute(
            "INSERT INTO inbox (received_at, source, stanza) VALUES (?, ?, ?)",
            (received_at, _COLUMN[source], stanza),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def pending(self, limit: int = 100) -> list[InboxItem]:
        """The oldest stanzas still waiting, in arrival order."""
        return self._items(_SELECT + "ORDER BY id LIMIT ?", limit)

    def held(self, limit: int = 1000) -> list[InboxItem]:
        """The oldest stanzas kept after a failed attempt (`record_failure`), in arrival
        order."""
        return self._items(_SELECT + "WHERE last_error IS NOT NULL ORDER BY id LIMIT ?", limit)

    def _items(self, query: str, limit: int) -> list[InboxItem]:
        rows = self._connection.execute(query, (limit,)).fetchall()
        return [
            InboxItem(row[0], row[1], _ARRIVAL[row[2]], bytes(row[3]), row[4], row[5])
            for row in rows
        ]

    def record_failure(self, inbox_id: int, error: str) -> None:
        """Count a failed attempt and keep a short, secret-free description of why."""
        self._connection.execute(
            "UPDATE inbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
            (error[:_MAX_ERROR_LENGTH], inbox_id),
        )

    def delete(self, inbox_id: int) -> bool:
        """Remove a handled stanza. Returns False when it was already gone."""
        cursor = self._connection.execute("DELETE FROM inbox WHERE id = ?", (inbox_id,))
        return cursor.rowcount > 0

    def count(self) -> int:
        """How many stanzas are waiting."""
        row = self._connection.execute("SELECT count(*) FROM inbox").fetchone()
        assert row is not None
        return int(row[0])
