"""The profile's account row and its settings (JSON values by key)."""

from __future__ import annotations

import json

from tui_omemo.store.records import Account
from tui_omemo.store.sql import Connection


class AccountRepository:
    """Repository over the single-row ``account`` table (one account per profile)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def get(self) -> Account | None:
        """The account, or None before it was set up."""
        row = self._connection.execute(
            "SELECT jid, password, server_host, server_port, allow_plaintext_loopback, "
            "created_at FROM account WHERE id = 1"
        ).fetchone()
        if row is None:
            return None
        return Account(row[0], row[1], row[2], row[3], bool(row[4]), row[5])

    def save(self, account: Account) -> None:
        """Create or replace the account."""
        self._connection.execute(
            "INSERT INTO account (id, jid, password, server_host, server_port, "
            "allow_plaintext_loopback, created_at) VALUES (1, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET jid = excluded.jid, password = excluded.password, "
            "server_host = excluded.server_host, server_port = excluded.server_port, "
            "allow_plaintext_loopback = excluded.allow_plaintext_loopback, "
            "created_at = excluded.created_at",
            (
                account.jid,
                account.password,
                account.server_host,
                account.server_port,
                int(account.allow_plaintext_loopback),
                account.created_at,
            ),
        )


class Settings:
    """Repository over the ``settings`` table: JSON-serialisable values by key."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def get(self, key: str, default: object = None) -> object:
        """The value under `key`, or `default`."""
        row = self._connection.execute(
            "SELECT value FROM settings WHERE key = ?", (key,)
        ).fetchone()
        return default if row is None else json.loads(row[0])

    def set(self, key: str, value: object) -> None:
        """Store a JSON-serialisable value under `key`.

        Raises:
            TypeError: the value is not JSON-serialisable.
        """
        self._connection.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value "
            "WHERE value IS NOT excluded.value",  # an unchanged row is not rewritten
            (key, json.dumps(value)),
        )

    def delete(self, key: str) -> None:
        """Forget the value under `key`."""
        self._connection.execute("DELETE FROM settings WHERE key = ?", (key,))

    def all(self) -> dict[str, object]:
        """Every setting."""
        rows = self._connection.execute("SELECT key, value FROM settings ORDER BY key")
        return {key: json.loads(value) for key, value in rows}
