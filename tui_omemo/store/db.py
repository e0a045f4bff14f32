"""An open profile database: pragmas, units of work, error mapping.

`Database` wraps one keyed connection (normally made by `tui_omemo.store.profile.
open_profile`). All access goes through a `UnitOfWork`: `unit_of_work()` is one
``BEGIN IMMEDIATE … COMMIT`` that rolls back on any exception, so everything DESIGN.md §3.1
requires to commit together (session state, consumed prekey, archive row, dedupe key, inbox
deletion) does; `snapshot()` is a read-only transaction with a consistent view.

Pragmas and why:

- ``journal_mode = WAL``: readers never block the writer, and a commit is one append.
- ``synchronous = NORMAL``: in WAL mode a commit is durable once the WAL is synced at a
  checkpoint; a power loss can drop the last few commits but never corrupts the database,
  and an application crash loses nothing. The inbox makes a lost commit harmless (the
  stanza is processed again), and it spares an fsync per message.
- ``foreign_keys = ON``: an outbox row follows its archive row.
- ``secure_delete = ON``: deleted content (old ratchet keys, removed messages) is
  overwritten, not left in free pages.
- ``journal_size_limit = 0``: once a checkpoint has copied the WAL into the database, the
  next write truncates the WAL file instead of overwriting it from the start, so superseded
  page images (old session keys among them) do not linger in its tail after the pages
  themselves were overwritten or zeroed; without it, one long transaction (a catch-up)
  leaves a WAL tail that outlives every later checkpoint.
- ``temp_store = MEMORY``: sorts and temporary tables never touch the disk.
- ``cache_size = -16384`` (16 MiB): SQLCipher decrypts and authenticates every page it
  loads, so a page cache that holds the hot part of the archive and its FTS index keeps
  paging and search close to plain SQLite (see ``benchmarks/store.py``).

The connection is synchronous and may be used by one thread at a time; the service runs it
on its dedicated DB thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, Protocol

from tui_omemo.store.account import AccountRepository, Settings
from tui_omemo.store.archive import Archive, DedupeKeys
from tui_omemo.store.delivery import Deliveries
from tui_omemo.store.errors import CorruptDatabase, NestedUnitOfWork, StoreError
from tui_omemo.store.events import SecurityEvents
from tui_omemo.store.inbox import Inbox
from tui_omemo.store.migrations import LATEST_VERSION, migrate, user_version
from tui_omemo.store.omemo_state import OmemoState
from tui_omemo.store.outbox import Outbox
from tui_omemo.store.roster import Roster
from tui_omemo.store.saved_files import SavedFiles
from tui_omemo.store.sql import DRIVER_ERRORS, Connection, translate
from tui_omemo.store.trust import Devices, Trust

PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA secure_delete = ON",
    "PRAGMA journal_size_limit = 0",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA cache_size = -16384",
)


class Releasable(Protocol):
    """Something held while the database is open (the profile lock)."""

    def release(self) -> None: ...


class UnitOfWork:
    """The repositories, all bound to one open transaction."""

    def __init__(self, connection: Connection) -> None:
        self.archive = Archive(connection)
        self.dedupe = DedupeKeys(connection)
        self.inbox = Inbox(connection)
        self.outbox = Outbox(connection)
        self.deliveries = Deliveries(connection)
        self.state = OmemoState(connection)
        self.devices = Devices(connection)
        self.trust = Trust(connection)
        self.roster = Roster(connection)
        self.account = AccountRepository(connection)
        self.settings = Settings(connection)
        self.security_events = SecurityEvents(connection)
        self.saved_files = SavedFiles(connection)


class Database:
    """One open, keyed, migrated profile database.

    Args:
        connection: a keyed connection in autocommit mode (``isolation_level=None``).
        directory: the profile directory (for error messages and free-space checks).
        lock: released when the database is closed.
    """

    def __init__(
        self, connection: Connection, directory: Path, lock: Releasable | None = None
    ) -> None:
        self._connection: Connection | None = connection
        self._directory = directory
        self._lock = lock

    @classmethod
    def attach(
        cls, connection: Connection, directory: Path, lock: Releasable | None = None
    ) -> Database:
        """Apply the pragmas and migrations to an open connection and wrap it.

        `open_profile` uses this after keying; the benchmark uses it to run the identical
        schema over the standard library's sqlite3.

        Raises:
            StoreError: a leaf for what failed (CorruptDatabase, DiskFull, SchemaTooNew …).
        """
        try:
            for pragma in PRAGMAS:
                connection.execute(pragma)
            migrate(connection)
        except DRIVER_ERRORS as error:
            raise_translated(error, directory)
        return cls(connection, directory, lock)

    @property
    def directory(self) -> Path:
        """The profile directory."""
        return self._directory

    @property
    def schema_version(self) -> int:
        """The database's ``user_version``."""
        return user_version(self._require())

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """One write transaction: commits when the block ends, rolls back on any exception.

        Raises:
            StoreError: a leaf for a storage failure (DiskFull, CorruptDatabase …), raised
                after the rollback; other exceptions from the block propagate unchanged.
        """
        with self._transaction("BEGIN IMMEDIATE", commit=True) as uow:
            yield uow

    @contextmanager
    def snapshot(self) -> Iterator[UnitOfWork]:
        """A read transaction with a consistent view; anything written is rolled back."""
        with self._transaction("BEGIN DEFERRED", commit=False) as uow:
            yield uow

    def check_integrity(self) -> None:
        """Read and authenticate every page (slow on big databases: run on demand).

        Raises:
            CorruptDatabase: a page fails its HMAC or the b-tree structure is damaged.
        """
        connection = self._require()
        try:
            cipher_errors = connection.execute("PRAGMA cipher_integrity_check").fetchall()
            quick = connection.execute("PRAGMA quick_check").fetchall()
        except DRIVER_ERRORS as error:
            raise_translated(error, self._directory)
        if cipher_errors or quick != [("ok",)]:
            raise CorruptDatabase(
                f"the database in {self._directory} is damaged; restore it from a backup"
            )

    def close(self) -> None:
        """Close the connection (checkpointing the WAL) and release the profile lock."""
        connection, self._connection = self._connection, None
        try:
            if connection is not None:
                connection.close()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self, begin: str, *, commit: bool) -> Iterator[UnitOfWork]:
        connection = self._require()
        if connection.in_transaction:
            raise NestedUnitOfWork("a unit of work is already open on this database")
        try:
            connection.execute(begin)
            yield UnitOfWork(connection)
            connection.execute("COMMIT" if commit else "ROLLBACK")
        except BaseException as error:
            _rollback(connection)
            mapped = translate(error, self._directory) if _is_storage(error) else None
            if mapped is None:
                raise
            raise mapped from error

    def _require(self) -> Connection:
        if self._connection is None:
            raise StoreError("the profile database is closed")
        return self._connection


def _rollback(connection: Connection) -> None:
    if connection.in_transaction:
        # SQLite may already have rolled back by itself after an I/O error.
        with contextlib.suppress(*DRIVER_ERRORS):
            connection.execute("ROLLBACK")


def _is_storage(error: BaseException) -> bool:
    return isinstance(error, (*DRIVER_ERRORS, OSError))


def raise_translated(error: Exception, directory: Path) -> NoReturn:
    """Raise the store's exception for `error`, or `error` itself if it is no storage failure."""
    mapped = translate(error, directory)
    if mapped is None:
        raise error
    raise mapped from error


__all__ = ["LATEST_VERSION", "PRAGMAS", "Database", "UnitOfWork"]
