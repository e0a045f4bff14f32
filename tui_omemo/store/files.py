"""Owner-only files: every file the store creates is 0600 and every directory 0700, whatever
the umask (DESIGN.md §3.13).

Files are created with ``os.open(…, 0o600)`` and then ``fchmod``-ed, because the umask can only
take permission bits away and SQLite itself creates a new database 0644. SQLite gives a new
``-wal``/``-shm`` the permissions of the database file, so a 0600 database keeps them 0600.
An existing profile directory (or a file in it, left by an older version) that others can read
is tightened when the profile is opened; a directory that belongs to another user is refused,
since tightening it is not ours to do.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from tui_omemo.store.errors import UnsafeProfile

FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
_OTHERS = 0o077


def private_directory(directory: Path) -> None:
    """Make `directory` (and missing parents) 0700, or tighten it if it exists.

    Raises:
        UnsafeProfile: it belongs to another user, or its mode cannot be changed.
    """
    missing = [path for path in (directory, *directory.parents) if not path.exists()]
    for path in reversed(missing):
        try:
            path.mkdir(mode=DIRECTORY_MODE)
        except FileExistsError:
            continue
        os.chmod(path, DIRECTORY_MODE)
    info = directory.stat()
    if info.st_uid != os.geteuid():
        raise UnsafeProfile(
            f"the profile directory {directory} belongs to another user; use a directory of "
            "your own"
        )
    if stat.S_IMODE(info.st_mode) & _OTHERS:
        _tighten(directory, DIRECTORY_MODE)


def private_files(paths: Iterable[Path]) -> None:
    """Take group and other permissions away from those of `paths` that exist.

    Raises:
        UnsafeProfile: a file's mode cannot be changed.
    """
    for path in paths:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & _OTHERS:
            _tighten(path, mode & ~_OTHERS & 0o777)


def create_private(path: Path, flags: int) -> int:
    """Open `path` with ``O_CREAT`` and mode 0600 whatever the umask; returns the descriptor."""
    fd = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _tighten(path: Path, mode: int) -> None:
    try:
        os.chmod(path, mode)
    except OSError as error:
        raise UnsafeProfile(
            f"{path} can be read by other users and its permissions cannot be changed "
            f"({error.strerror}); make it private (chmod go-rwx)"
        ) from error
