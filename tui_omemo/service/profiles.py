"""What the command line knows of a profile without opening it, and the store types it names.

`tui_omemo.commands` imports no `tui_omemo.store` module (an import-linter contract in
pyproject.toml) except in one place, the profile opening (`commands.profile.open_database`,
kept free of the service so that `history` starts without loading it). What the commands read
and change in an open profile goes through service modules (`service.offline`,
`service.account_setup`, `service.login_pins`, `service.listen_cursor`); the few store types
they name (the open `Database`, its `UnitOfWork`, the `Account` row, the keyring backend) are
re-exported here.
"""

from __future__ import annotations

from pathlib import Path

from tui_omemo.store import (
    Account,
    Database,
    KeyringBackend,
    KeyringKeys,
    UnitOfWork,
    inspect_profile,
    needs_passphrase,
)

__all__ = [
    "Account",
    "Database",
    "KeyringBackend",
    "UnitOfWork",
    "asks_passphrase",
    "keyring_usable",
    "profile_exists",
]


def profile_exists(directory: Path) -> bool:
    """Whether `directory` holds a profile's database."""
    return inspect_profile(directory).database_exists


def asks_passphrase(directory: Path, keyring: KeyringBackend | None) -> bool:
    """Whether the profile in `directory` can only be opened with a typed passphrase."""
    return needs_passphrase(directory, KeyringKeys(keyring))


def keyring_usable(keyring: KeyringBackend | None) -> bool:
    """Whether `keyring` can keep the key of a new profile."""
    return KeyringKeys(keyring).usable
