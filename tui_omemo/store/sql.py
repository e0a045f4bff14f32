"""The small DB-API surface the store uses, and the mapping of SQLite errors to `StoreError`.

The repositories are written against the `Connection` protocol rather than `sqlcipher3`
directly so that the benchmark can run the very same code over the standard library's
`sqlite3` (same schema, same statements) and report SQLCipher's cost as a ratio.
"""

from __future__ import annotations

import os
import resource
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import sqlcipher3

from tui_omemo.store.errors import (
    ConstraintViolation,
    CorruptDatabase,
    DiskFull,
    StorageIOError,
    StoreError,
)

Row = tuple[Any, ...]
Params = Sequence[object] | Mapping[str, object]

# SQLite primary result codes (https://sqlite.org/rescode.html); the drivers report these.
SQLITE_CONSTRAINT = 19
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_IOERR = 10
SQLITE_NOTADB = 26

# Below this much free space an I/O error on write is reported as a full disk.
_LOW_SPACE_BYTES = 64 * 1024 * 1024

#: The exception bases of both drivers (SQLCipher's and the standard library's).
DRIVER_ERRORS: tuple[type[Exception], ...] = (sqlcipher3.Error, sqlite3.Error)


class Cursor(Protocol):
    """What the store reads from a cursor."""

    @property
    def lastrowid(self) -> int | None: ...

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Row | None: ...

    def fetchall(self) -> list[Row]: ...

    def __iter__(self) -> Iterator[Row]: ...


class Connection(Protocol):
    """What the store needs from a connection (satisfied by sqlcipher3 and sqlite3)."""

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, parameters: Params = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Sequence[Params], /) -> Cursor: ...

    def close(self) -> None: ...


def error_code(error: BaseException) -> int | None:
    """The SQLite primary result code carried by a driver exception, if any."""
    code = getattr(error, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def translate(error: BaseException, directory: Path) -> StoreError | None:
    """Map a driver or OS exception to the store's exception for the same failure.

    Args:
        error: what the driver (or the OS) raised.
        directory: the profile directory, to judge free space.

    Returns:
        The `StoreError` to raise instead, or None when the error is a programming error
        in the store itself (bad SQL) that should propagate unchanged.
    """
    if isinstance(error, StoreError):
        return error
    if isinstance(error, OSError):
        return _from_os_error(error, directory)
    return _from_result_code(error, error_code(error), directory)


def _from_result_code(error: BaseException, code: int | None, directory: Path) -> StoreError | None:
    if code in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return CorruptDatabase(
            f"the database in {directory} is damaged ({error}); restore it from a backup"
        )
    if code == SQLITE_CONSTRAINT:
        # SQLite's message names the constraint, never the values.
        return ConstraintViolation(f"the store refused an invalid record ({error})")
    if code == SQLITE_FULL:
        return _disk_full(directory)
    if code == SQLITE_IOERR:
        return _disk_full(directory) if _space_is_short(directory) else _io_error(directory)
    return None


def _from_os_error(error: OSError, directory: Path) -> StoreError:
    import errno

    if error.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return _disk_full(directory)
    return _io_error(directory)


def _disk_full(directory: Path) -> DiskFull:
    return DiskFull(
        f"the disk holding {directory} is full (or a file size limit was hit); "
        "nothing was saved from the last change"
    )


def _io_error(directory: Path) -> StorageIOError:
    return StorageIOError(
        f"the operating system reported an I/O error writing to {directory}; "
        "nothing was saved from the last change"
    )


def _space_is_short(directory: Path) -> bool:
    """Whether a write error is best explained by a lack of room.

    SQLite reports SQLITE_FULL only for ENOSPC on some writes; a file-size limit (EFBIG) and
    many out-of-space cases surface as a plain SQLITE_IOERR, and the drivers do not expose the
    errno. So a write I/O error counts as a full disk when the filesystem is nearly full or a
    finite RLIMIT_FSIZE is in force.
    """
    soft, _hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft != resource.RLIM_INFINITY:
        return True
    try:
        stats = os.statvfs(directory)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < _LOW_SPACE_BYTES
