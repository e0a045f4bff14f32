"""A crash leaves the -wal and -shm behind; a wrong key must then change nothing, not merge
the WAL into the database while saying so (DESIGN.md §3.8)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.store.conftest import PASSPHRASE, fingerprint
from tui_omemo.store import KeyringKeys, WrongPassphrase, open_profile

REPO_ROOT = Path(__file__).resolve().parents[2]
DB = "tui-omemo.db"


def test_wrong_passphrase_after_a_crash_leaves_database_wal_and_shm_untouched(
    profile: Path,
) -> None:
    """After a crash with a commit only in the WAL, a wrong passphrase raises WrongPassphrase
    and the database, -wal and -shm keep their bytes; the right one then finds the commit."""
    keys = KeyringKeys(None)
    with open_profile(profile, keys, PASSPHRASE) as db, db.unit_of_work() as uow:
        uow.settings.set("before", "crash")
    subprocess.run(
        [sys.executable, "-m", "tests.store.child", "committed-crash", str(profile)],
        cwd=REPO_ROOT,
        env={**os.environ, "TUI_OMEMO_TEST_PASSPHRASE": PASSPHRASE},
        timeout=60,
        check=False,
    )
    before = fingerprint(profile)
    assert {f"{DB}-wal", f"{DB}-shm"} <= before.keys()
    with pytest.raises(WrongPassphrase, match="nothing was changed"):
        open_profile(profile, keys, "not the passphrase")
    assert fingerprint(profile) == before
    with open_profile(profile, keys, PASSPHRASE) as db, db.snapshot() as uow:
        assert uow.settings.get("after-crash") == "kept"
