"""Security events: a local log of what a careful user may want to review later.

Examples of kinds: ``device_added``, ``identity_key_changed``, ``decryption_failed``,
``plaintext_in_encrypted_chat``. Details are small JSON objects and never contain keys,
passphrases or message text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from tui_omemo.store.records import SecurityEvent
from tui_omemo.store.sql import Connection


class SecurityEvents:
    """Repository over the ``security_events`` table."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(
        self,
        kind: str,
        occurred_at: int,
        peer: str | None = None,
        device_id: int | None = None,
        detail: Mapping[str, object] | None = None,
    ) -> int:
        """Record an event. Returns its id."""
        cursor = self._connection.execute(
            "INSERT INTO security_events (occurred_at, kind, peer, device_id, detail) "
            "VALUES (?, ?, ?, ?, ?)",
            (occurred_at, kind, peer, device_id, json.dumps(dict(detail or {}), sort_keys=True)),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def recent(self, limit: int = 100, peer: str | None = None) -> list[SecurityEvent]:
        """The newest events first, optionally only those about one peer."""
        sql = "SELECT id, occurred_at, kind, peer, device_id, detail FROM security_events"
        params: tuple[object, ...] = (limit,)
        if peer is not None:
            sql += " WHERE peer = ?"
            params = (peer, limit)
        rows = self._connection.execute(sql + " ORDER BY occurred_at DESC, id DESC LIMIT ?", params)
        return [
            SecurityEvent(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]))
            for row in rows
        ]
