"""Keyring backends to hand in: one that keeps entries in a dict, one that fails on every call.

`DictKeyring` and `BrokenKeyring` are subclasses of keyring's own base, standing in for an OS
keyring that works or one that fails on every call (the store tests and the benchmarks). The
real Secret Service is used by the tests marked ``keyring``.

Subclassing registers a backend with keyring for the whole process, and `keyring.get_keyring()`
would then chain (or pick) them elsewhere. Their priority is below zero: keyring's chainer only
takes backends above zero and auto-detection prefers its own fail backend (0), so they are only
ever used when handed in.
"""

from __future__ import annotations

import keyring.backend
import keyring.errors
from keyring.compat import properties


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
