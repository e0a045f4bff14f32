"""Opening a profile: where it lives, which key opens it, one process at a time.

A profile directory holds:

- ``tui-omemo.db`` — the SQLCipher database (plus its ``-wal``/``-shm`` while open);
- ``profile.json`` — a plaintext marker, no secrets: ``{"format": 1, "key_source":
  "keyring" | "passphrase"}``, so that a missing keyring entry is recognised as such
  instead of being mistaken for a new profile;
- ``lock`` — an empty file held with ``flock`` by the process that has the profile open.

Failure paths create and change nothing: a wrong key, a corrupt file, a missing keyring
entry or a missing passphrase leave the database byte-identical and add no file (the lock
file is created once, with the profile). A new database is built under a temporary name and
renamed into place when complete, so an existing ``tui-omemo.db`` is never replaced or
re-created and a half-built one is never mistaken for a profile.
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs
import sqlcipher3

from tui_omemo.store.db import Database, raise_translated
from tui_omemo.store.errors import (
    CorruptDatabase,
    KeyringEntryMissing,
    KeyringKeyRejected,
    NoKeyringBackend,
    PassphraseRequired,
    ProfileIncomplete,
    ProfileLocked,
    StoreError,
    WrongKey,
    WrongPassphrase,
)
from tui_omemo.store.passphrase import DatabaseKey, KeyringKeys, Passphrase, RawKey
from tui_omemo.store.sql import DRIVER_ERRORS, SQLITE_CORRUPT, SQLITE_NOTADB, Connection
from tui_omemo.store.sql import error_code as sqlite_error_code

APP_NAME = "tui-omemo"
DB_FILENAME = "tui-omemo.db"
MARKER_FILENAME = "profile.json"
LOCK_FILENAME = "lock"
MARKER_FORMAT = 1
_BUILDING_SUFFIX = ".building"
_PLAINTEXT_HEADER = b"SQLite format 3\x00"
_MIN_PAGE = 512


class KeySource(enum.StrEnum):
    """How a profile's database key is obtained."""

    KEYRING = "keyring"
    PASSPHRASE = "passphrase"  # noqa: S105 (a label, not a secret)


@dataclass(frozen=True, slots=True)
class ProfileInfo:
    """What can be learnt about a profile without a key."""

    directory: Path
    database_exists: bool
    key_source: KeySource | None


def default_profile_dir(
    explicit: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """The profile directory to use.

    Args:
        explicit: a directory given by the user (e.g. ``--profile``); wins when set.
        environ: the environment to read ``TUI_OMEMO_HOME`` from (default: os.environ).

    Returns:
        An absolute path: `explicit`, else ``$TUI_OMEMO_HOME``, else the platform's user
        data directory for tui-omemo.
    """
    environ = os.environ if environ is None else environ
    if explicit is not None:
        chosen = Path(explicit)
    elif environ.get("TUI_OMEMO_HOME"):
        chosen = Path(environ["TUI_OMEMO_HOME"])
    else:
        chosen = platformdirs.user_data_path(APP_NAME)
    return chosen.expanduser().absolute()


def inspect_profile(directory: Path) -> ProfileInfo:
    """Whether a profile's database exists and which kind of key it uses (reads no secret).

    Raises:
        ProfileIncomplete: the marker file is unreadable.
    """
    return ProfileInfo(directory, (directory / DB_FILENAME).exists(), _read_marker(directory))


def needs_passphrase(directory: Path, keys: KeyringKeys) -> bool:
    """Whether opening this profile needs a typed passphrase (what the TUI asks before).

    True for a profile keyed by passphrase, and for a new profile when no keyring is usable.
    """
    info = inspect_profile(directory)
    if info.database_exists:
        return info.key_source is KeySource.PASSPHRASE
    return not keys.usable


def open_profile(
    directory: Path,
    keys: KeyringKeys,
    passphrase: str | None = None,
    *,
    verify_integrity: bool = False,
) -> Database:
    """Open (or, if it has no database yet, create) the profile in `directory`.

    A new profile is keyed by `passphrase` when one is given, else by a random key kept in
    the keyring. An existing profile is keyed the way its marker says; a given passphrase is
    ignored for a keyring profile.

    Args:
        directory: the profile directory (see `default_profile_dir`).
        keys: the keyring (possibly without a usable backend).
        passphrase: what the person typed, if anything.
        verify_integrity: also authenticate every page (slow for big archives).

    Returns:
        The open, migrated database, holding the profile lock until closed.

    Raises:
        ProfileLocked: another process has the profile open.
        NoKeyringBackend: new profile, no passphrase and no usable keyring.
        PassphraseRequired: the profile is keyed by a passphrase and none was given.
        WrongPassphrase, KeyringKeyRejected: the key does not open the database.
        KeyringEntryMissing, KeyringUnavailable: the keyring profile's key cannot be had.
        CorruptDatabase, ProfileIncomplete, SchemaTooNew, DiskFull: as named.
    """
    directory = directory.absolute()
    if not (directory / DB_FILENAME).exists():
        _check_can_create(keys, passphrase)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = ProfileLock.acquire(directory)
    try:
        if not (directory / DB_FILENAME).exists():
            _create(directory, keys, passphrase)
        database = _open_existing(directory, keys, passphrase, lock)
    except BaseException:
        lock.release()
        raise
    if verify_integrity:
        try:
            database.check_integrity()
        except BaseException:
            database.close()
            raise
    return database


class ProfileLock:
    """An exclusive ``flock`` on the profile's lock file, held while the profile is open."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, directory: Path) -> ProfileLock:
        """Take the lock without waiting.

        Raises:
            ProfileLocked: another process (or another open in this one) holds it.
        """
        path = directory / LOCK_FILENAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ProfileLocked(
                f"the profile {directory} is already open in another tui-omemo; close it first"
            ) from None
        return cls(fd)

    def release(self) -> None:
        """Let go of the lock (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def _check_can_create(keys: KeyringKeys, passphrase: str | None) -> None:
    """Fail before touching the disk when a new profile could get no key."""
    if passphrase is not None:
        Passphrase(passphrase)  # validates
    elif not keys.usable:
        raise NoKeyringBackend(
            "no OS keyring is available to keep the database key: choose a passphrase "
            "(TUI_OMEMO_PASSPHRASE or --passphrase-file)"
        )


def _create(directory: Path, keys: KeyringKeys, passphrase: str | None) -> None:
    key: DatabaseKey
    if passphrase is not None:
        key, source = Passphrase(passphrase), KeySource.PASSPHRASE
    else:
        key, source = _keyring_key_for_new_profile(directory, keys), KeySource.KEYRING
    _write_marker(directory, source)
    _build_database(directory, key)


def _keyring_key_for_new_profile(directory: Path, keys: KeyringKeys) -> RawKey:
    """Reuse an entry left by an interrupted creation (never overwrite a key), else make one."""
    try:
        existing = keys.load(directory)
    except StoreError as error:
        raise NoKeyringBackend(
            f"the OS keyring cannot be used ({error}): choose a passphrase instead"
        ) from error
    if existing is not None:
        return existing
    key = RawKey.generate()
    keys.save(directory, key)
    return key


def _build_database(directory: Path, key: DatabaseKey) -> None:
    building = directory / (DB_FILENAME + _BUILDING_SUFFIX)
    for leftover in _with_sidecars(building):
        leftover.unlink(missing_ok=True)
    connection = _connect(building, key, create=True)
    try:
        Database.attach(connection, directory)
    finally:
        connection.close()
    _fsync_path(building)
    os.replace(building, directory / DB_FILENAME)
    _fsync_path(directory)


def _open_existing(
    directory: Path, keys: KeyringKeys, passphrase: str | None, lock: ProfileLock
) -> Database:
    path = directory / DB_FILENAME
    source = _read_marker(directory)
    if source is None:
        raise ProfileIncomplete(
            f"{directory / MARKER_FILENAME} is missing, so it is unknown how {path} is keyed; "
            'restore it (it holds {"format": 1, "key_source": "keyring" or "passphrase"})'
        )
    _check_file_shape(path)
    key = _existing_key(directory, source, keys, passphrase)
    connection = _connect(path, key, create=False)
    try:
        _verify_key(connection, path, source)
        return Database.attach(connection, directory, lock)
    except BaseException:
        connection.close()
        raise


def _existing_key(
    directory: Path, source: KeySource, keys: KeyringKeys, passphrase: str | None
) -> DatabaseKey:
    if source is KeySource.PASSPHRASE:
        if passphrase is None:
            raise PassphraseRequired(
                f"the profile {directory} is protected by a passphrase: enter it"
            )
        return Passphrase(passphrase)
    key = keys.load(directory)
    if key is None:
        raise KeyringEntryMissing(
            f"the OS keyring has no key for the profile {directory}, which was created with "
            "one; restore the keyring entry (no new key was made)"
        )
    return key


def _check_file_shape(path: Path) -> None:
    """Reject files SQLCipher would misread: empty, truncated or unencrypted."""
    size = path.stat().st_size
    if size == 0 or size % _MIN_PAGE:
        raise CorruptDatabase(f"{path} is truncated ({size} bytes); restore it from a backup")
    with path.open("rb") as file:
        if file.read(len(_PLAINTEXT_HEADER)) == _PLAINTEXT_HEADER:
            raise CorruptDatabase(f"{path} is an unencrypted SQLite file, not a tui-omemo profile")


def _connect(path: Path, key: DatabaseKey, *, create: bool) -> Connection:
    """A keyed connection; `create=False` never makes a file where none is."""
    uri = path.as_uri() + ("?mode=rwc" if create else "?mode=rw")
    try:
        connection: Connection = sqlcipher3.connect(
            uri, uri=True, isolation_level=None, check_same_thread=False
        )
    except DRIVER_ERRORS as error:
        raise_translated(error, path.parent)
    try:
        connection.execute("PRAGMA cipher_log_level = NONE")  # SQLCipher logs to stderr
        connection.execute(key.pragma())
    except BaseException:
        connection.close()
        raise
    return connection


def _verify_key(connection: Connection, path: Path, source: KeySource) -> None:
    """Read page 1: this is where a wrong key shows (SQLITE_NOTADB), before any write."""
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except DRIVER_ERRORS as error:
        code = sqlite_error_code(error)
        if code == SQLITE_NOTADB:
            raise _wrong_key(path, source) from None
        if code == SQLITE_CORRUPT:
            raise CorruptDatabase(f"{path} is damaged; restore it from a backup") from None
        raise_translated(error, path.parent)


def _wrong_key(path: Path, source: KeySource) -> WrongKey:
    if source is KeySource.PASSPHRASE:
        return WrongPassphrase(f"wrong passphrase for {path} (nothing was changed)")
    return KeyringKeyRejected(
        f"the key in the OS keyring does not open {path}: the entry was replaced or the file's "
        "first page is damaged (nothing was changed)"
    )


def _read_marker(directory: Path) -> KeySource | None:
    path = directory / MARKER_FILENAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return KeySource(data["key_source"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ProfileIncomplete(f"{path} is unreadable; it should hold the key source") from error


def _write_marker(directory: Path, source: KeySource) -> None:
    """Write ``profile.json`` atomically (temporary file, fsync, rename, fsync directory)."""
    path = directory / MARKER_FILENAME
    temporary = path.with_suffix(".json.tmp")
    content = json.dumps({"format": MARKER_FORMAT, "key_source": source.value}) + "\n"
    with temporary.open("w", encoding="utf-8") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    _fsync_path(directory)


def _with_sidecars(path: Path) -> list[Path]:
    return [path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal"))]


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # some filesystems refuse fsync on directories
            os.fsync(fd)
    finally:
        os.close(fd)
