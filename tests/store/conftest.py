"""Fixtures for the store tests: real SQLCipher files in tmp_path, keyrings to hand in.

`DictKeyring` and `BrokenKeyring` (keyring backends that work in memory or fail on every call)
live in `devtools/keyrings.py`, as the benchmarks use them too; they are re-exported here. The
real Secret Service is used by the tests marked ``keyring``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import keyring.errors
import pytest

from devtools.keyrings import BrokenKeyring, DictKeyring
from tui_omemo.store import Database, KeyringKeys, StoreError, keyring_entry, open_profile

__all__ = ["PASSPHRASE", "BrokenKeyring", "DictKeyring", "fingerprint"]

PASSPHRASE = "correct horse battery staple"


def fingerprint(directory: Path) -> dict[str, str]:
    """Every file in a directory with the sha256 of its content."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.iterdir())
        if path.is_file()
    }


@pytest.fixture
def dict_keyring() -> DictKeyring:
    return DictKeyring()


@pytest.fixture
def keys(dict_keyring: DictKeyring) -> KeyringKeys:
    return KeyringKeys(dict_keyring, service=f"tui-omemo-test-{uuid.uuid4().hex}")


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    return tmp_path / "profile"


@pytest.fixture
def db(profile: Path, keys: KeyringKeys) -> Iterator[Database]:
    database = open_profile(profile, keys)
    yield database
    database.close()


@pytest.fixture
def secret_service_keys(profile: Path) -> Iterator[KeyringKeys]:
    """The real Secret Service (gnome-keyring) under a service name unique to the test.

    The entries for `profile` (by id and by path) are deleted afterwards.
    """
    if not os.environ.get("TUI_OMEMO_TEST_SECRET_SERVICE"):
        pytest.skip("needs TUI_OMEMO_TEST_SECRET_SERVICE (run under scripts/with-keyring.sh)")
    from keyring.backends import SecretService

    backend = SecretService.Keyring()  # type: ignore[no-untyped-call]
    keys = KeyringKeys(backend, service=f"tui-omemo-test-{uuid.uuid4().hex}")
    yield keys
    entries = {str(profile.resolve())}
    with contextlib.suppress(StoreError):
        entries.add(keyring_entry(profile) or "")
    for entry in entries - {""}:
        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            keys.delete(entry)
