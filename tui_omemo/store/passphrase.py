"""Where a profile's database key comes from: the OS keyring, or a passphrase a person types.

A new profile gets 32 random bytes from `secrets`, kept in the OS keyring (service
``tui-omemo``, user name = the entry name the profile store chooses: the profile's random id, or
the profile's path for one made by an older version) and applied to SQLCipher as a raw key, so
opening skips the KDF. Without a usable keyring the caller supplies a passphrase,
which SQLCipher stretches with its own KDF. The keyring backend always comes in as an
argument, so tests can hand in the real Secret Service, a failing backend or none at all.

Key material is never written to a file; `RawKey` and `Passphrase` hide themselves in `repr`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Protocol

from tui_omemo.store.errors import KeyringUnavailable, NoKeyringBackend, UnusablePassphrase

#: The keyring service name under which profile keys are kept.
KEYRING_SERVICE = "tui-omemo"

RAW_KEY_BYTES = 32


class KeyringBackend(Protocol):
    """The part of a `keyring` backend the store uses (any `keyring.backend.KeyringBackend`)."""

    def get_password(self, service: str, username: str) -> str | None: ...

    def set_password(self, service: str, username: str, password: str) -> None: ...

    def delete_password(self, service: str, username: str) -> None: ...


@dataclass(frozen=True, slots=True, repr=False)
class RawKey:
    """A 256-bit database key, applied without a KDF."""

    material: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.material) != RAW_KEY_BYTES:
            raise ValueError("a raw database key is exactly 32 bytes")

    @classmethod
    def generate(cls) -> RawKey:
        """A fresh key from the operating system's CSPRNG."""
        return cls(secrets.token_bytes(RAW_KEY_BYTES))

    def pragma(self) -> str:
        """The `PRAGMA key` statement that applies this key as raw key data."""
        return f"PRAGMA key = \"x'{self.material.hex()}'\""

    def __repr__(self) -> str:
        return "RawKey(<hidden>)"


@dataclass(frozen=True, slots=True, repr=False)
class Passphrase:
    """A passphrase typed by a person; SQLCipher derives the key from it (PBKDF2)."""

    text: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.text:
            raise UnusablePassphrase("the passphrase is empty: type one")
        if "\x00" in self.text:
            raise UnusablePassphrase("the passphrase contains a NUL character: choose another")

    def pragma(self) -> str:
        """The `PRAGMA key` statement for this passphrase, as an escaped SQL string literal.

        PRAGMA values cannot be bound as parameters, so the text is quoted: every ``'`` is
        doubled; double quotes and non-ASCII characters need no escaping inside ``'…'``.
        """
        return "PRAGMA key = '" + self.text.replace("'", "''") + "'"

    def __repr__(self) -> str:
        return "Passphrase(<hidden>)"


DatabaseKey = RawKey | Passphrase


class KeyringKeys:
    """Profile keys in an OS keyring backend.

    Args:
        backend: a keyring backend, or None when the platform offers none.
        service: the keyring service name (tests use a unique one each).
    """

    def __init__(self, backend: KeyringBackend | None, service: str = KEYRING_SERVICE) -> None:
        self._backend = backend
        self._service = service

    @property
    def usable(self) -> bool:
        """False when there is no backend or it is keyring's failing/null placeholder."""
        if self._backend is None:
            return False
        import keyring.backends.fail
        import keyring.backends.null

        placeholders = (keyring.backends.fail.Keyring, keyring.backends.null.Keyring)
        return self._backend is not None and not isinstance(self._backend, placeholders)

    def load(self, entry: str) -> RawKey | None:
        """The key stored under the entry name `entry`, or None when there is no such entry.

        Raises:
            KeyringUnavailable: no usable backend, or the backend failed.
        """
        backend = self._require(KeyringUnavailable("no OS keyring is available"))
        try:
            stored = backend.get_password(self._service, entry)
        except Exception as error:  # backends raise many types (D-Bus, KeyringError, …)
            raise KeyringUnavailable(
                f"the OS keyring could not be read ({type(error).__name__})"
            ) from error
        return None if stored is None else _decode(stored)

    def save(self, entry: str, key: RawKey) -> None:
        """Store a key under `entry` and read it back to make sure the backend really kept it.

        Raises:
            NoKeyringBackend: the backend is missing, failed, or did not keep the key; the
                caller must fall back to a passphrase.
        """
        missing = NoKeyringBackend(
            "no usable OS keyring to keep the database key: supply a passphrase instead"
        )
        backend = self._require(missing)
        try:
            backend.set_password(self._service, entry, key.material.hex())
            kept = self.load(entry)
        except Exception as error:  # any backend failure means: no keyring
            raise missing from error
        if kept != key:
            raise missing

    def delete(self, entry: str) -> None:
        """Remove an entry (an old profile's after its key moved, and in tests)."""
        backend = self._require(KeyringUnavailable("no OS keyring is available"))
        backend.delete_password(self._service, entry)

    def _require(self, error: Exception) -> KeyringBackend:
        if self._backend is None or not self.usable:
            raise error
        return self._backend


def _decode(stored: str) -> RawKey:
    try:
        return RawKey(bytes.fromhex(stored))
    except ValueError as error:
        raise KeyringUnavailable(
            "the OS keyring entry for this profile does not hold a database key"
        ) from error
