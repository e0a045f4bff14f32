"""Opening a profile: where it lives, which key opens it, one process at a time.

A profile directory holds:

- ``tui-omemo.db`` — the SQLCipher database (plus its ``-wal``/``-shm`` while open);
- ``profile.json`` — a plaintext marker, no secrets (`tui_omemo.store.marker`): the key
  source, so that a missing keyring entry is recognised as such instead of being mistaken for
  a new profile, and the random profile id that names the keyring entry;
- ``lock`` — an empty file held with ``flock`` by the process that has the profile open.

Everything is owner-only (`tui_omemo.store.files`): files 0600, the directory 0700.

Failure paths create and change nothing: a wrong key, a corrupt file, a missing keyring
entry or a missing passphrase leave the database byte-identical and add no file (the lock
file is created once, with the profile). After a crash the ``-wal``/``-shm`` are still there
and the first connection would merge them; so the key is first tried on a read-only,
immutable connection that reads page 1 of the database file alone and touches neither. A new
database is built under a temporary name and renamed into place when complete, so an existing
``tui-omemo.db`` is never replaced or re-created and a half-built one is never mistaken for a
profile.

A keyring profile made by an older version has its entry named by its path; once its key has
opened it, the key is stored again under a new profile id, the id is written to
``profile.json``, and the entry named by the path is removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

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
from tui_omemo.store.files import create_private, private_directory, private_files
from tui_omemo.store.marker import (
    MARKER_FILENAME,
    KeySource,
    Marker,
    fsync_path,
    new_profile_id,
    read_marker,
    write_marker,
)
from tui_omemo.store.passphrase import DatabaseKey, KeyringKeys, Passphrase, RawKey
from tui_omemo.store.sql import DRIVER_ERRORS, SQLITE_CORRUPT, SQLITE_NOTADB, Connection
from tui_omemo.store.sql import error_code as sqlite_error_code

APP_NAME = "tui-omemo"
DB_FILENAME = "tui-omemo.db"
LOCK_FILENAME = "lock"
_BUILDING_SUFFIX = ".building"
_PLAINTEXT_HEADER = b"SQLite format 3\x00"
_MIN_PAGE = 512


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
        import platformdirs

        chosen = platformdirs.user_data_path(APP_NAME)
    return chosen.expanduser().absolute()


def inspect_profile(directory: Path) -> ProfileInfo:
    """Whether a profile's database exists and which kind of key it uses (reads no secret).

    Raises:
        ProfileIncomplete: the marker file is unreadable.
    """
    marker = read_marker(directory)
    source = None if marker is None else marker.source
    return ProfileInfo(directory, (directory / DB_FILENAME).exists(), source)


def keyring_entry(directory: Path) -> str | None:
    """The name of the keyring entry that holds this profile's key (None: not a keyring
    profile): its profile id, or its path for a profile made by an older version.

    Raises:
        ProfileIncomplete: the marker file is unreadable.
    """
    marker = read_marker(directory)
    if marker is None or marker.source is not KeySource.KEYRING:
        return None
    return marker.profile_id or _legacy_entry(directory)


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
        UnsafeProfile: the directory is another user's, or others can read it and it cannot
            be made private.
        CorruptDatabase, ProfileIncomplete, SchemaTooNew, DiskFull: as named.
    """
    directory = directory.absolute()
    if not (directory / DB_FILENAME).exists():
        _check_can_create(keys, passphrase)
    private_directory(directory)
    lock = ProfileLock.acquire(directory)
    try:
        private_files(_own_files(directory))
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
        fd = create_private(path, os.O_RDWR)
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
    """A new profile: a fresh id (never one left in the directory) and a fresh key."""
    key: DatabaseKey
    profile_id = new_profile_id()
    if passphrase is not None:
        key, source = Passphrase(passphrase), KeySource.PASSPHRASE
    else:
        key, source = RawKey.generate(), KeySource.KEYRING
        keys.save(profile_id, key)
    write_marker(directory, Marker(source, profile_id))
    _build_database(directory, key)


def _build_database(directory: Path, key: DatabaseKey) -> None:
    building = directory / (DB_FILENAME + _BUILDING_SUFFIX)
    for leftover in _with_sidecars(building):
        leftover.unlink(missing_ok=True)
    os.close(create_private(building, os.O_WRONLY))  # SQLite would make it 0644
    connection = _connect(building, key, create=True)
    try:
        Database.attach(connection, directory)
    finally:
        connection.close()
    fsync_path(building)
    os.replace(building, directory / DB_FILENAME)
    fsync_path(directory)


def _open_existing(
    directory: Path, keys: KeyringKeys, passphrase: str | None, lock: ProfileLock
) -> Database:
    path = directory / DB_FILENAME
    marker = read_marker(directory)
    if marker is None:
        raise ProfileIncomplete(
            f"{directory / MARKER_FILENAME} is missing, so it is unknown how {path} is keyed; "
            'restore it (it holds {"format": 1, "key_source": "keyring" or "passphrase"})'
        )
    _check_file_shape(path)
    key = _existing_key(directory, marker, keys, passphrase)
    if any(sidecar.exists() for sidecar in _with_sidecars(path)[1:]):
        _probe_key(path, key, marker.source)
    connection = _connect(path, key, create=False)
    try:
        _verify_key(connection, path, marker.source)
        database = Database.attach(connection, directory, lock)
    except BaseException:
        connection.close()
        raise
    if isinstance(key, RawKey) and marker.profile_id is None:
        _move_legacy_entry(directory, keys, key)
    return database


def _existing_key(
    directory: Path, marker: Marker, keys: KeyringKeys, passphrase: str | None
) -> DatabaseKey:
    if marker.source is KeySource.PASSPHRASE:
        if passphrase is None:
            raise PassphraseRequired(
                f"the profile {directory} is protected by a passphrase: enter it"
            )
        return Passphrase(passphrase)
    key = keys.load(marker.profile_id or _legacy_entry(directory))
    if key is None:
        raise KeyringEntryMissing(
            f"the OS keyring has no key for the profile {directory}, which was created with "
            "one; restore the keyring entry (no new key was made)"
        )
    return key


def _move_legacy_entry(directory: Path, keys: KeyringKeys, key: RawKey) -> None:
    """Store an older profile's key under a new profile id, record the id, then remove the
    entry named by the path. Best effort: if the keyring or the disk refuses, the profile
    keeps opening by its path and the move is tried again next time."""
    profile_id = new_profile_id()
    try:
        keys.save(profile_id, key)
        write_marker(directory, Marker(KeySource.KEYRING, profile_id))
    except (StoreError, OSError):
        return
    with contextlib.suppress(Exception):  # a stale entry is harmless; the marker moved on
        keys.delete(_legacy_entry(directory))


def _legacy_entry(directory: Path) -> str:
    """The keyring entry name of a profile made before profile ids: its resolved path."""
    return str(directory.resolve())


def _own_files(directory: Path) -> list[Path]:
    """Every file tui-omemo keeps in a profile directory."""
    database = directory / DB_FILENAME
    building = directory / (DB_FILENAME + _BUILDING_SUFFIX)
    marker = directory / MARKER_FILENAME
    return [
        *_with_sidecars(database),
        *_with_sidecars(building),
        marker,
        marker.with_suffix(".json.tmp"),
        directory / LOCK_FILENAME,
    ]


def _probe_key(path: Path, key: DatabaseKey, source: KeySource) -> None:
    """Try the key on page 1 of the database file alone, through a read-only, immutable
    connection that neither reads nor merges nor deletes the ``-wal``/``-shm`` a crash left.

    Raises:
        WrongPassphrase, KeyringKeyRejected: the key does not decrypt page 1.
    """
    try:
        probe: Connection = sqlcipher3.connect(
            path.as_uri() + "?mode=ro&immutable=1", uri=True, isolation_level=None
        )
    except DRIVER_ERRORS as error:
        raise_translated(error, path.parent)
    try:
        probe.execute("PRAGMA cipher_log_level = NONE")
        probe.execute(key.pragma())
        probe.execute("PRAGMA user_version").fetchone()
    except DRIVER_ERRORS as error:
        if sqlite_error_code(error) == SQLITE_NOTADB:
            raise _wrong_key(path, source) from None
        # Anything else (a damaged page 1 the WAL may repair) is for the real open to judge.
    finally:
        probe.close()


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


def _with_sidecars(path: Path) -> list[Path]:
    return [path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal"))]
