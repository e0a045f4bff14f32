"""The outbox: outgoing messages archived but not yet confirmed by the server.

A send archives its plaintext and keeps the stanza exactly as encrypted here, in the same unit
of work that advances the sending chains (DESIGN.md §3). The row stays until the server has
confirmed the stanza (a ping round trip after it left); until then the archive row carries the
flag ``pending`` so the UI can show it as not delivered to the server. Resends use the stored
stanza, never a new encryption.
"""

from __future__ import annotations

from collections.abc import Iterable

from tui_omemo.store.records import OutboxItem
from tui_omemo.store.sql import Connection

PENDING_FLAG = "pending"
"""The archive flag set while a message waits in the outbox."""


class Outbox:
    """Repository over the ``outbox`` table (and the ``pending`` flag of the archive rows)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, archive_id: int, stanza: bytes, queued_at: int) -> None:
        """Keep the stanza of an archived outgoing message until the server confirms it.

        Adding a message already waiting changes nothing.
        """
        cursor = self._connection.execute(
            "INSERT OR IGNORE INTO outbox (archive_id, queued_at, stanza) VALUES (?, ?, ?)",
            (archive_id, queued_at, stanza),
        )
        if cursor.rowcount:
            self._connection.execute(
                f"UPDATE archive SET flags = json_set(flags, '$.{PENDING_FLAG}', json('true')) "  # noqa: S608 (constant)
                "WHERE id = ?",
                (archive_id,),
            )

    def pending(self, limit: int = 1000) -> list[OutboxItem]:
        """The messages still waiting, oldest first (the order they were sent in)."""
        rows = self._connection.execute(
            "SELECT archive_id, queued_at, stanza, attempts FROM outbox "
            "ORDER BY archive_id LIMIT ?",
            (limit,),
        ).fetchall()
        return [OutboxItem(row[0], row[1], bytes(row[2]), row[3]) for row in rows]

    def count(self) -> int:
        """How many messages wait."""
        row = self._connection.execute("SELECT count(*) FROM outbox").fetchone()
        assert row is not None
        return int(row[0])

    def attempted(self, archive_ids: Iterable[int]) -> None:
        """Count one more hand-over to a stream for each message."""
        self._connection.executemany(
            "UPDATE outbox SET attempts = attempts + 1 WHERE archive_id = ?",
            [(archive_id,) for archive_id in archive_ids],
        )

    def confirmed(self, archive_ids: Iterable[int]) -> list[int]:
        """Forget messages the server confirmed and clear their ``pending`` flag.

        Returns:
            The ids that were waiting (ids not in the outbox are skipped).
        """
        done = []
        for archive_id in archive_ids:
            cursor = self._connection.execute(
                "DELETE FROM outbox WHERE archive_id = ?", (archive_id,)
            )
            if cursor.rowcount:
                done.append(archive_id)
                self._connection.execute(
                    f"UPDATE archive SET flags = json_remove(flags, '$.{PENDING_FLAG}') "  # noqa: S608 (constant)
                    "WHERE id = ?",
                    (archive_id,),
                )
        return done
