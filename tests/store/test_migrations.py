"""Schema steps under PRAGMA user_version: fresh databases reach the latest version, and
each step runs exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlcipher3

from tui_omemo.store import Database, KeyringKeys, SchemaTooNew, keyring_entry, open_profile
from tui_omemo.store.migrations import LATEST_VERSION, MIGRATIONS, Migration, migrate, user_version
from tui_omemo.store.passphrase import RawKey


def _keyed_connection(path: Path) -> sqlcipher3.Connection:
    connection = sqlcipher3.connect(str(path), isolation_level=None)
    connection.execute(RawKey.generate().pragma())
    return connection


def test_fresh_profile_reaches_the_latest_version(db: Database) -> None:
    """A new profile database is at the newest schema version."""
    assert db.schema_version == LATEST_VERSION == MIGRATIONS[-1].version


def test_migrating_an_empty_database_applies_every_step_once_and_rerun_is_a_noop(
    tmp_path: Path,
) -> None:
    """All steps apply in order on an empty database; a second run applies none."""
    connection = _keyed_connection(tmp_path / "empty.db")
    assert migrate(connection) == [step.version for step in MIGRATIONS]
    assert user_version(connection) == LATEST_VERSION
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"account", "archive", "archive_fts", "dedupe", "inbox", "omemo_state"} <= tables
    assert migrate(connection) == []
    connection.close()


def test_each_step_runs_once_even_across_reopens(tmp_path: Path) -> None:
    """Steps newer than user_version run; older ones never run again."""
    log = "INSERT INTO log VALUES ({})"
    steps = [
        Migration(1, "log table", ("CREATE TABLE log (step INTEGER)", log.format(1))),
        Migration(2, "second", (log.format(2),)),
    ]
    connection = _keyed_connection(tmp_path / "steps.db")
    assert migrate(connection, steps[:1]) == [1]
    assert migrate(connection, steps) == [2]
    assert migrate(connection, steps) == []
    assert [row[0] for row in connection.execute("SELECT step FROM log")] == [1, 2]
    connection.close()


def test_a_failing_step_leaves_the_previous_version(tmp_path: Path) -> None:
    """A step that fails is rolled back whole, user_version included."""
    steps = [
        Migration(1, "ok", ("CREATE TABLE a (x)",)),
        Migration(2, "fails", ("CREATE TABLE b (x)", "INSERT INTO missing VALUES (1)")),
    ]
    connection = _keyed_connection(tmp_path / "fail.db")
    with pytest.raises(sqlcipher3.OperationalError):
        migrate(connection, steps)
    assert user_version(connection) == 1
    names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert "b" not in names
    connection.close()


def test_database_newer_than_the_code_is_refused(profile: Path, keys: KeyringKeys) -> None:
    """A user_version beyond the newest step raises SchemaTooNew instead of guessing."""
    with open_profile(profile, keys) as db, db.unit_of_work():
        pass
    connection = sqlcipher3.connect(str(profile / "tui-omemo.db"), isolation_level=None)
    connection.execute(keys.load(keyring_entry(profile)).pragma())  # type: ignore[arg-type,union-attr]
    connection.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    connection.close()
    with pytest.raises(SchemaTooNew, match="newer tui-omemo"):
        open_profile(profile, keys)
