"""Where a received file lands: a safe name in the downloads directory, written atomically.

A file name that arrives with a file message is a stranger's text: `safe_name`
(`protocol.media_link`) makes it a plain name that cannot leave the directory. `AtomicFile`
writes the content to a hidden temporary file in the target directory and, only once the
caller commits (after the tag check), links it under the first free name among `name.ext`,
`name (1).ext`, `name (2).ext` …: an existing file is never overwritten, and a failure, an
exception or a `kill -9` leaves nothing under the final name (at worst a hidden
`.tui-omemo-*.part` file, which `remove_leftovers` clears).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import time
from pathlib import Path
from types import TracebackType

from tui_omemo.protocol.media_link import numbered, safe_name

__all__ = ["AtomicFile", "numbered", "remove_leftovers", "safe_name"]

TEMP_PREFIX = ".tui-omemo-"
TEMP_SUFFIX = ".part"
MAX_COPIES = 10_000
LEFTOVER_AGE = 3600.0


class AtomicFile:
    """A file being written into `directory`, visible under its final name only once
    `commit()` succeeds.

    Use as a context manager: leaving the block without `commit()` (or through an
    exception) deletes the temporary file.
    """

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = safe_name(name)
        self.path: Path | None = None
        directory.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(
            prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=directory
        )
        self._temporary = Path(temporary)
        self.stream = os.fdopen(descriptor, "wb")

    def write(self, data: bytes) -> None:
        """Append to the temporary file."""
        self.stream.write(data)

    def commit(self) -> Path:
        """Flush to disk and give the file its final name (the first free numbered one).

        Returns:
            The path it now has.
        """
        self.stream.flush()
        os.fsync(self.stream.fileno())
        self.stream.close()
        for number in range(MAX_COPIES):
            candidate = self.directory / numbered(self.name, number)
            if _claim(self._temporary, candidate):
                self.path = candidate
                _sync_directory(self.directory)
                return candidate
        raise FileExistsError(errno.EEXIST, "no free name left", str(self.directory))

    def discard(self) -> None:
        """Delete the temporary file (nothing was ever under the final name)."""
        with contextlib.suppress(OSError):
            self.stream.close()
        with contextlib.suppress(FileNotFoundError):
            self._temporary.unlink()

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _error: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        if self.path is None:
            self.discard()


def _claim(temporary: Path, final: Path) -> bool:
    """Move `temporary` to `final` unless `final` exists (never overwrites): a hard link,
    which fails atomically on an existing name, then the temporary name goes. On a file
    system without hard links, an exclusive create reserves the name and a rename fills it.
    """
    try:
        os.link(temporary, final)
    except FileExistsError:
        return False
    except OSError as error:
        if error.errno not in {errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK}:
            raise
        return _claim_without_links(temporary, final)
    temporary.unlink()
    return True


def _claim_without_links(temporary: Path, final: Path) -> bool:
    try:
        os.close(os.open(final, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return False
    os.replace(temporary, final)
    return True


def _sync_directory(directory: Path) -> None:
    """Make the new name durable (best effort: not every platform opens directories)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def remove_leftovers(directory: Path, older_than: float = LEFTOVER_AGE) -> int:
    """Delete temporary files an interrupted download left in `directory` (only those
    untouched for `older_than` seconds: a download running in another process keeps its own).

    Returns:
        How many were removed.
    """
    removed = 0
    deadline = time.time() - older_than
    for leftover in directory.glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if leftover.stat().st_mtime <= deadline:
                leftover.unlink()
                removed += 1
    return removed
