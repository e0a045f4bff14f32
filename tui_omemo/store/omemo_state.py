"""The OMEMO core's persistent state: a versioned JSON key/value table.

The protocol core owns the meaning of keys and values; keys are paths such as
``identity``, ``x3dh/<namespace>`` or ``session/<namespace>/<bare_jid>/<device_id>``, and
values are JSON text with a format version the core uses to migrate its own models. The
store only keeps them, inside whatever unit of work the caller opened, so that a new session
state commits together with the archive row it produced.
"""

from __future__ import annotations

from collections.abc import Iterator

from tui_omemo.store.records import StateRecord
from tui_omemo.store.sql import Connection


class OmemoState:
    """Repository over the ``omemo_state`` table."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def load(self, key: str) -> StateRecord | None:
        """The entry stored under `key`, or None."""
        row = self._connection.execute(
            "SELECT key, version, value FROM omemo_state WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else StateRecord(row[0], row[1], row[2])

    def store(self, key: str, version: int, value: str) -> None:
        """Insert or replace the entry under `key`.

        Args:
            key: the state path.
            version: the format version of `value`.
            value: JSON text.
        """
        # An unchanged row is not rewritten: its page stays clean, so it costs no page
        # encryption and no WAL frame at commit.
        self._connection.execute(
            "INSERT INTO omemo_state (key, version, value) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET version = excluded.version, value = excluded.value "
            "WHERE version IS NOT excluded.version OR value IS NOT excluded.value",
            (key, version, value),
        )

    def delete(self, key: str) -> bool:
        """Remove the entry under `key`. Returns False when there was none."""
        cursor = self._connection.execute("DELETE FROM omemo_state WHERE key = ?", (key,))
        return cursor.rowcount > 0

    def list_prefix(self, prefix: str) -> list[StateRecord]:
        """Every entry whose key starts with `prefix`, ordered by key."""
        return list(self._iter_prefix(prefix))

    def delete_prefix(self, prefix: str) -> int:
        """Remove every entry whose key starts with `prefix`. Returns how many."""
        keys = [(record.key,) for record in self._iter_prefix(prefix)]
        self._connection.executemany("DELETE FROM omemo_state WHERE key = ?", keys)
        return len(keys)

    def _iter_prefix(self, prefix: str) -> Iterator[StateRecord]:
        # A range scan on the primary key: every key with this prefix sorts at or after it,
        # and they are contiguous, so the scan stops at the first key without the prefix.
        cursor = self._connection.execute(
            "SELECT key, version, value FROM omemo_state WHERE key >= ? ORDER BY key", (prefix,)
        )
        for key, version, value in cursor:
            if not key.startswith(prefix):
                break
            yield StateRecord(key, version, value)
