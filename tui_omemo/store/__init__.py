"""The encrypted store: one SQLCipher database per profile, synchronous by design.

Open a profile with `open_profile(directory, KeyringKeys(backend), passphrase=None)`, then
do everything inside `db.unit_of_work()` (one transaction) or `db.snapshot()` (reads).
The service runs all of it on its one DB thread. See DESIGN.md §2, §3.1, §3.8.
"""

from __future__ import annotations

from tui_omemo.store.db import Database, UnitOfWork
from tui_omemo.store.errors import (
    ConstraintViolation,
    CorruptDatabase,
    DiskFull,
    KeyringEntryMissing,
    KeyringKeyRejected,
    KeyringUnavailable,
    NestedUnitOfWork,
    NoKeyringBackend,
    PassphraseRequired,
    ProfileIncomplete,
    ProfileLocked,
    SchemaTooNew,
    StorageIOError,
    StoreError,
    WrongKey,
    WrongPassphrase,
)
from tui_omemo.store.passphrase import KEYRING_SERVICE, KeyringBackend, KeyringKeys
from tui_omemo.store.profile import (
    KeySource,
    ProfileInfo,
    default_profile_dir,
    inspect_profile,
    needs_passphrase,
    open_profile,
)
from tui_omemo.store.records import (
    Account,
    ArchivedMessage,
    DeviceRecord,
    Direction,
    IdentityRecord,
    InboxItem,
    InboxSource,
    NewMessage,
    Page,
    PageCursor,
    RosterItem,
    SearchHit,
    SecurityEvent,
    SnippetPart,
    StateRecord,
    TrustChange,
)

__all__ = [
    "KEYRING_SERVICE",
    "Account",
    "ArchivedMessage",
    "ConstraintViolation",
    "CorruptDatabase",
    "Database",
    "DeviceRecord",
    "Direction",
    "DiskFull",
    "IdentityRecord",
    "InboxItem",
    "InboxSource",
    "KeySource",
    "KeyringBackend",
    "KeyringEntryMissing",
    "KeyringKeyRejected",
    "KeyringKeys",
    "KeyringUnavailable",
    "NestedUnitOfWork",
    "NewMessage",
    "NoKeyringBackend",
    "Page",
    "PageCursor",
    "PassphraseRequired",
    "ProfileIncomplete",
    "ProfileInfo",
    "ProfileLocked",
    "RosterItem",
    "SchemaTooNew",
    "SearchHit",
    "SecurityEvent",
    "SnippetPart",
    "StateRecord",
    "StorageIOError",
    "StoreError",
    "TrustChange",
    "UnitOfWork",
    "WrongKey",
    "WrongPassphrase",
    "default_profile_dir",
    "inspect_profile",
    "needs_passphrase",
    "open_profile",
]
