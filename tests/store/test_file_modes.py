"""Owner-only files (DESIGN.md §3.13): whatever the umask, everything the store creates is
0600 and every directory it creates 0700; an existing profile directory or file that others
can read is tightened when the profile is opened."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store.conftest import PASSPHRASE
from tui_omemo.store import KeyringKeys, UnsafeProfile, open_profile

DB = "tui-omemo.db"


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes(directory: Path) -> dict[str, int]:
    return {path.name: mode(path) for path in sorted(directory.iterdir())}


def test_files_are_owner_only_under_umask_000_in_a_0755_directory(
    profile: Path, keys: KeyringKeys
) -> None:
    """In a pre-existing 0755 directory under umask 000, the database, its -wal/-shm (while
    open), profile.json and the lock are 0600 and the directory becomes 0700; missing parents
    are made 0700 as well."""
    profile.mkdir(mode=0o755)
    os.chmod(profile, 0o755)
    nested = profile.parent / "new" / "parents" / "profile"
    with umask(0o000):
        with open_profile(profile, keys) as db, db.unit_of_work() as uow:
            uow.settings.set("k", "v")
            assert modes(profile) == {
                "lock": 0o600,
                "profile.json": 0o600,
                DB: 0o600,
                f"{DB}-shm": 0o600,
                f"{DB}-wal": 0o600,
            }
        with open_profile(nested, KeyringKeys(None), PASSPHRASE):
            pass
    assert mode(profile) == 0o700
    assert set(modes(nested).values()) == {0o600}
    assert [mode(path) for path in (nested, nested.parent, nested.parent.parent)] == [0o700] * 3


def test_an_older_profile_readable_by_others_is_tightened(profile: Path, keys: KeyringKeys) -> None:
    """A profile left 0755 with 0644 files (as older versions made them, -wal/-shm of a crash
    included) is made 0700/0600 when opened, with its content intact."""
    with open_profile(profile, keys) as db, db.unit_of_work() as uow:
        uow.settings.set("k", "v")
    for name in (f"{DB}-wal", f"{DB}-shm"):
        (profile / name).touch()
    for path in profile.iterdir():
        os.chmod(path, 0o644)
    os.chmod(profile, 0o755)
    with open_profile(profile, keys) as db, db.snapshot() as uow:
        assert uow.settings.get("k") == "v"
        assert mode(profile) == 0o700
        assert set(modes(profile).values()) == {0o600}


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory away needs root")
def test_a_directory_of_another_user_is_refused(profile: Path, keys: KeyringKeys) -> None:
    """A profile directory owned by someone else is refused with the reason, and nothing is
    created in it."""
    profile.mkdir(mode=0o755)
    os.chown(profile, 12345, 12345)
    with pytest.raises(UnsafeProfile, match="belongs to another user"):
        open_profile(profile, keys)
    assert list(profile.iterdir()) == []
