"""The encrypted store: one SQLCipher database per profile, synchronous by design.

Opening (see `profile.py` for the rules)::

    keys = KeyringKeys(keyring.get_keyring())           # or KeyringKeys(None): no keyring
    directory = default_profile_dir(args.profile)       # --profile, $TUI_OMEMO_HOME, platform
    if needs_passphrase(directory, keys):               # passphrase profile, or no keyring
        passphrase = ask()                              # TUI dialog / TUI_OMEMO_PASSPHRASE
    db = open_profile(directory, keys, passphrase)      # StoreError leaves on failure

Working: every read and write happens inside a transaction that yields the repositories
(`UnitOfWork`: archive, dedupe, inbox, state, devices, trust, roster, account, settings,
security_events)::

    with db.unit_of_work() as uow:                      # BEGIN IMMEDIATE … COMMIT
        uow.state.store(session_key, version, json_text)
        uow.archive.append(new_message)
        uow.inbox.delete(inbox_id)                      # all or nothing (DESIGN.md §3.1)
    with db.snapshot() as uow:                          # consistent reads
        page = uow.archive.page(peer, before=None, limit=100)

The service runs all of it on its one DB thread (DESIGN.md §6).
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
    UnsafeProfile,
    UnusablePassphrase,
    WrongKey,
    WrongPassphrase,
)
from tui_omemo.store.marker import KeySource
from tui_omemo.store.passphrase import KEYRING_SERVICE, KeyringBackend, KeyringKeys
from tui_omemo.store.profile import (
    ProfileInfo,
    default_profile_dir,
    inspect_profile,
    keyring_entry,
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
    NewMessage,
    OutboxItem,
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
    "KeySource",
    "KeyringBackend",
    "KeyringEntryMissing",
    "KeyringKeyRejected",
    "KeyringKeys",
    "KeyringUnavailable",
    "NestedUnitOfWork",
    "NewMessage",
    "NoKeyringBackend",
    "OutboxItem",
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
    "UnsafeProfile",
    "UnusablePassphrase",
    "WrongKey",
    "WrongPassphrase",
    "default_profile_dir",
    "inspect_profile",
    "keyring_entry",
    "needs_passphrase",
    "open_profile",
]
