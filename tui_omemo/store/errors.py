"""The store's exceptions: one root, `StoreError`, and leaves named for what failed.

Every leaf carries a one-line message a person can act on; the service shows `str(error)`
as is. Messages never contain key material, passphrases or message text.
"""

from __future__ import annotations


class StoreError(Exception):
    """Root of everything the store raises on purpose."""


class ProfileLocked(StoreError):
    """Another process has this profile open."""


class ProfileIncomplete(StoreError):
    """The database exists but the plaintext marker that says how it is keyed does not."""


class UnsafeProfile(StoreError):
    """The profile directory or a file in it is open to other users and cannot be made private."""


class PassphraseRequired(StoreError):
    """The database is (or will be) keyed by a typed passphrase and none was given."""


class NoKeyringBackend(PassphraseRequired):
    """No usable OS keyring for a new profile: the caller must ask for a passphrase instead."""


class UnusablePassphrase(StoreError, ValueError):
    """The given passphrase cannot be used (it is empty or contains a NUL character).

    Also a ValueError: the value itself is wrong, whatever is stored.
    """


class KeyringUnavailable(StoreError):
    """The profile's key lives in the OS keyring, but the keyring cannot be reached."""


class KeyringEntryMissing(StoreError):
    """The profile was created with a keyring key, and that keyring entry is gone."""


class WrongKey(StoreError):
    """The key does not decrypt the database (nothing was changed)."""


class WrongPassphrase(WrongKey):
    """The typed passphrase does not decrypt the database (nothing was changed)."""


class KeyringKeyRejected(WrongKey):
    """The key found in the keyring does not decrypt the database."""


class CorruptDatabase(StoreError):
    """The database file is damaged (the key is right, but pages do not decrypt or parse)."""


class DiskFull(StoreError):
    """A write failed for lack of space (or a file-size limit); the unit of work was undone."""


class StorageIOError(StoreError):
    """The operating system reported an I/O error; the unit of work was undone."""


class ConstraintViolation(StoreError):
    """A record broke a rule of the schema (a bug in the caller); the unit of work was undone."""


class NestedUnitOfWork(StoreError):
    """A unit of work was opened inside another one; SQLite has one transaction at a time."""


class SchemaTooNew(StoreError):
    """The database was written by a newer tui-omemo whose schema this version does not know."""
