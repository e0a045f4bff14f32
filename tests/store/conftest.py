"""Fixtures for the store tests: real SQLCipher files in tmp_path, keyrings to hand in.

`DictKeyring` and `BrokenKeyring` are keyring backends (subclasses of keyring's own base),
standing in for an OS keyring that works or one that fails on every call. The real Secret
Service is used by the tests marked ``keyring``.

Subclassing registers a backend with keyring for the whole process, and `keyring.get_keyring()`
would then chain (or pick) them in other test modules. Their priority is below zero: keyring's
chainer only takes backends above zero and auto-detection prefers its own fail backend (0), so
they are only ever used when handed in.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import keyring.backend
import keyring.errors
import pytest
from keyring.compat import properties

from tui_omemo.store import Database, KeyringKeys, StoreError, keyring_entry, open_profile

PASSPHRASE = "correct horse battery staple"


class DictKeyring(keyring.backend.KeyringBackend):
    """A keyring backend that keeps entries in a dict (one process only)."""

    @properties.classproperty
    def priority(cls) -> float:
        """Never picked or chained by keyring itself (see the module docstring)."""
        return -1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(username)


class BrokenKeyring(keyring.backend.KeyringBackend):
    """A keyring backend whose every call fails, like a locked or crashed Secret Service."""

    @properties.classproperty
    def priority(cls) -> float:
        """Never picked or chained by keyring itself (see the module docstring)."""
        return -1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringError("the keyring daemon went away")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError("the keyring daemon went away")

    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.PasswordDeleteError("the keyring daemon went away")


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
