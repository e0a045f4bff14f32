"""Where a received file lands: a safe name in the downloads directory, written atomically.

A file name that arrives with a file message is a stranger's text. `safe_name` makes it a
plain name that cannot leave the directory it is saved in (no path separators, no `.`/`..`,
no leading dot, no control or format characters such as a right-to-left override, at most
`NAME_LIMIT` bytes with the extension kept). `AtomicFile` writes the content to a hidden
temporary file in the target directory and, only once the caller commits (after the tag
check), links it under the first free name among `name.ext`, `name (1).ext`, `name (2).ext`
…: an existing file is never overwritten, and a failure, an exception or a `kill -9` leaves
nothing under the final name (at worst a hidden `.tui-omemo-*.part` file, which
`remove_leftovers` clears).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import time
import unicodedata
from pathlib import Path
from types import TracebackType

NAME_LIMIT = 200
"""Bytes (UTF-8) of a saved file name; common file systems allow 255."""
EXTENSION_LIMIT = 16
FALLBACK_NAME = "file"
TEMP_PREFIX = ".tui-omemo-"
TEMP_SUFFIX = ".part"
MAX_COPIES = 10_000
LEFTOVER_AGE = 3600.0
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def safe_name(hint: str) -> str:
    """A file name derived from `hint` that is safe to create inside a directory.

    Path separators become `_`; control, format and unassigned characters are dropped; leading
    dots and white space (hidden files, `..`) and trailing dots and white space go; an empty
    result becomes `file`; the name is cut to `NAME_LIMIT` bytes, keeping a short extension.
    """
    text = unicodedata.normalize("NFC", hint)
    text = text.replace("/", "_").replace("\\", "_")
    text = "".join(c for c in text if unicodedata.category(c) not in _DROPPED_CATEGORIES)
    text = " ".join(text.split())
    text = text.lstrip(". ").rstrip(". ")
    return _shorten(text) or FALLBACK_NAME


def _shorten(name: str) -> str:
    """Cut `name` to NAME_LIMIT UTF-8 bytes, keeping its extension when that is short."""
    if len(name.encode()) <= NAME_LIMIT:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > EXTENSION_LIMIT:
        stem, extension = name, ""
    suffix = f".{extension}" if extension else ""
    budget = NAME_LIMIT - len(suffix.encode())
    cut = stem.encode()[:budget].decode(errors="ignore").rstrip(". ")
    return f"{cut}{suffix}" if cut else FALLBACK_NAME


def numbered(name: str, number: int) -> str:
    """`name` with ` (number)` before its extension (`a.txt` → `a (1).txt`); 0 is `name`."""
    if number == 0:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        return f"{name} ({number})"
    return f"{stem} ({number}).{extension}"


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
