"""Opening profiles: keys from the keyring or a passphrase, and every failure leaving the
files exactly as they were (DESIGN.md §3.8)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import keyring.backends.fail
import keyring.backends.null
import pytest

from tests.store.conftest import PASSPHRASE, BrokenKeyring, DictKeyring, fingerprint
from tui_omemo.store import (
    CorruptDatabase,
    KeyringEntryMissing,
    KeyringKeyRejected,
    KeyringKeys,
    KeySource,
    NoKeyringBackend,
    PassphraseRequired,
    ProfileIncomplete,
    ProfileLocked,
    StoreError,
    UnusablePassphrase,
    WrongPassphrase,
    default_profile_dir,
    inspect_profile,
    needs_passphrase,
    open_profile,
)
from tui_omemo.store.passphrase import Passphrase, RawKey

DB = "tui-omemo.db"
REPO_ROOT = Path(__file__).resolve().parents[2]


def _with_a_message(profile: Path, keys: KeyringKeys, passphrase: str | None = None) -> None:
    with open_profile(profile, keys, passphrase) as db, db.unit_of_work() as uow:
        uow.settings.set("greeting", "hello")


def test_database_file_is_encrypted_and_reopens_with_the_same_key(
    profile: Path, keys: KeyringKeys
) -> None:
    """The file never starts with the plaintext SQLite header; the keyring key reopens it."""
    _with_a_message(profile, keys)
    assert not (profile / DB).read_bytes().startswith(b"SQLite format 3")
    with open_profile(profile, keys) as db, db.snapshot() as uow:
        assert uow.settings.get("greeting") == "hello"
    marker = json.loads((profile / "profile.json").read_text())
    assert marker == {"format": 1, "key_source": "keyring", "profile_id": marker["profile_id"]}
    assert re.fullmatch("[0-9a-f]{32}", marker["profile_id"])


def test_new_profile_files_are_exactly_db_marker_and_lock(profile: Path, keys: KeyringKeys) -> None:
    """After a clean close no -wal/-shm or half-built database is left behind."""
    _with_a_message(profile, keys)
    assert sorted(os.listdir(profile)) == ["lock", "profile.json", DB]


def test_wrong_passphrase_is_reported_and_changes_nothing(profile: Path, keys: KeyringKeys) -> None:
    """A wrong passphrase raises WrongPassphrase; files and listing stay byte-identical."""
    _with_a_message(profile, keys, PASSPHRASE)
    before = fingerprint(profile)
    with pytest.raises(WrongPassphrase, match="wrong passphrase"):
        open_profile(profile, keys, "not the passphrase")
    assert fingerprint(profile) == before


@pytest.mark.parametrize(
    "passphrase",
    ["it's", 'say "hi"', "''; DROP TABLE x; --", "ünïcödé ✓ 🔐", "x'00'", "\\'\\\""],
)
def test_passphrases_with_quotes_and_non_ascii_work(
    profile: Path, keys: KeyringKeys, passphrase: str
) -> None:
    """Quotes and non-ASCII are escaped, not interpreted: the same text reopens, a near miss
    does not."""
    _with_a_message(profile, keys, passphrase)
    with open_profile(profile, keys, passphrase) as db, db.snapshot() as uow:
        assert uow.settings.get("greeting") == "hello"
    before = fingerprint(profile)
    with pytest.raises(WrongPassphrase):
        open_profile(profile, keys, passphrase + "'")
    assert fingerprint(profile) == before


def test_passphrase_pragma_doubles_single_quotes() -> None:
    """The passphrase becomes one SQL string literal, whatever quotes it holds."""
    assert Passphrase("a'b\"c").pragma() == "PRAGMA key = 'a''b\"c'"


@pytest.mark.parametrize("passphrase", ["", "nul\x00inside"])
def test_unusable_passphrase_is_refused_before_anything_is_created(
    profile: Path, keys: KeyringKeys, passphrase: str
) -> None:
    """An empty passphrase or one with NUL raises UnusablePassphrase and creates nothing."""
    with pytest.raises(UnusablePassphrase):
        open_profile(profile, keys, passphrase)
    assert not profile.exists()


def test_secrets_are_hidden_from_repr() -> None:
    """Neither a raw key nor a passphrase shows up in repr (logs, tracebacks)."""
    key = RawKey.generate()
    assert key.material.hex() not in repr(key)
    assert "hunter2" not in repr(Passphrase("hunter2"))


def test_passphrase_profile_without_passphrase_asks_for_one(
    profile: Path, keys: KeyringKeys
) -> None:
    """Opening a passphrase profile with no passphrase raises PassphraseRequired."""
    _with_a_message(profile, keys, PASSPHRASE)
    before = fingerprint(profile)
    assert needs_passphrase(profile, keys)
    with pytest.raises(PassphraseRequired):
        open_profile(profile, keys)
    assert fingerprint(profile) == before


@pytest.mark.parametrize(
    "backend",
    [
        None,
        keyring.backends.fail.Keyring(),  # type: ignore[no-untyped-call]
        keyring.backends.null.Keyring(),  # type: ignore[no-untyped-call]
        BrokenKeyring(),
    ],
    ids=["none", "fail", "null", "broken"],
)
def test_no_keyring_backend_asks_for_a_passphrase_and_creates_nothing(
    tmp_path: Path, backend: object
) -> None:
    """Without a usable keyring a new profile needs a passphrase; nothing is written first
    (the broken backend is only found out when saving, so the directory may exist, but no
    database and no key)."""
    profile = tmp_path / "profile"
    keys = KeyringKeys(backend)  # type: ignore[arg-type]
    with pytest.raises(NoKeyringBackend, match="passphrase"):
        open_profile(profile, keys)
    assert not (profile / DB).exists()
    assert not profile.exists() or set(os.listdir(profile)) <= {"lock"}


def test_no_keyring_backend_with_passphrase_stores_nothing_secret_in_plaintext(
    profile: Path,
) -> None:
    """With the failing backend and a passphrase the profile works, and no file holds the
    passphrase or the marker anything but the key source."""
    keys = KeyringKeys(keyring.backends.fail.Keyring())  # type: ignore[no-untyped-call]
    assert needs_passphrase(profile, keys)
    _with_a_message(profile, keys, PASSPHRASE)
    for name in os.listdir(profile):
        content = (profile / name).read_bytes()
        assert PASSPHRASE.encode() not in content
        assert b"hello" not in content  # the stored setting is only in the encrypted db
    assert inspect_profile(profile).key_source is KeySource.PASSPHRASE


def test_missing_keyring_entry_is_an_error_not_a_new_key(
    profile: Path, keys: KeyringKeys, dict_keyring: DictKeyring
) -> None:
    """A keyring profile whose entry vanished raises KeyringEntryMissing and makes no key."""
    _with_a_message(profile, keys)
    dict_keyring.entries.clear()
    before = fingerprint(profile)
    with pytest.raises(KeyringEntryMissing, match="no new key"):
        open_profile(profile, keys, passphrase="typed anyway")
    assert dict_keyring.entries == {}
    assert fingerprint(profile) == before


def test_replaced_keyring_entry_is_rejected(
    profile: Path, keys: KeyringKeys, dict_keyring: DictKeyring
) -> None:
    """A different key in the keyring raises KeyringKeyRejected and changes nothing."""
    _with_a_message(profile, keys)
    (entry,) = dict_keyring.entries
    dict_keyring.entries[entry] = RawKey.generate().material.hex()
    before = fingerprint(profile)
    with pytest.raises(KeyringKeyRejected):
        open_profile(profile, keys)
    assert fingerprint(profile) == before


def test_broken_keyring_on_existing_profile_is_reported(profile: Path, keys: KeyringKeys) -> None:
    """A keyring profile whose keyring fails raises a StoreError naming the keyring."""
    _with_a_message(profile, keys)
    before = fingerprint(profile)
    with pytest.raises(StoreError, match="keyring"):
        open_profile(profile, KeyringKeys(BrokenKeyring()))
    assert fingerprint(profile) == before


def _corrupt_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))


def _grow(profile: Path, keys: KeyringKeys) -> None:
    with open_profile(profile, keys) as db, db.unit_of_work() as uow:
        for index in range(200):
            uow.state.store(f"blob/{index:04}", 1, json.dumps("x" * 500))


def test_corrupt_page_is_found_by_the_integrity_check(profile: Path, keys: KeyringKeys) -> None:
    """Damage in the middle of the file raises CorruptDatabase when integrity is verified,
    and the file stays as it was."""
    _grow(profile, keys)
    _corrupt_middle(profile / DB)
    before = fingerprint(profile)
    with pytest.raises(CorruptDatabase, match="damaged"):
        open_profile(profile, keys, verify_integrity=True)
    assert fingerprint(profile) == before


def test_corrupt_page_is_reported_when_read(profile: Path, keys: KeyringKeys) -> None:
    """Without the full check, reading the damaged page raises CorruptDatabase (not a raw
    driver error), and the file stays as it was."""
    _grow(profile, keys)
    _corrupt_middle(profile / DB)
    before = fingerprint(profile)
    db = open_profile(profile, keys)  # the cheap key check reads page 1 only
    try:
        with pytest.raises(CorruptDatabase), db.snapshot() as uow:
            uow.state.list_prefix("blob/")
    finally:
        db.close()
    assert fingerprint(profile) == before


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) - 100],
        lambda data: b"",
        lambda data: b"SQLite format 3\x00" + data[16:],
        lambda data: bytes(16) + data[16:],
    ],
    ids=["truncated", "empty", "plaintext-header", "zeroed-salt"],
)
def test_damaged_files_are_reported_and_left_alone(
    profile: Path, keys: KeyringKeys, damage: object
) -> None:
    """Truncated, emptied or overwritten first bytes give a StoreError and no new database."""
    _with_a_message(profile, keys)
    path = profile / DB
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    before = fingerprint(profile)
    with pytest.raises((CorruptDatabase, KeyringKeyRejected)):
        open_profile(profile, keys)
    assert fingerprint(profile) == before


def test_missing_marker_is_reported_instead_of_guessing(profile: Path, keys: KeyringKeys) -> None:
    """A database without profile.json raises ProfileIncomplete and is not re-created."""
    _with_a_message(profile, keys)
    (profile / "profile.json").unlink()
    before = fingerprint(profile)
    with pytest.raises(ProfileIncomplete):
        open_profile(profile, keys)
    assert fingerprint(profile) == before


def test_wrong_key_prints_nothing_on_stderr(profile: Path, keys: KeyringKeys) -> None:
    """SQLCipher's own logging is off: a wrong passphrase leaves stderr empty."""
    _with_a_message(profile, keys, PASSPHRASE)
    result = subprocess.run(
        [sys.executable, "-m", "tests.store.child", "open", str(profile)],
        cwd=REPO_ROOT,
        env={**os.environ, "TUI_OMEMO_TEST_PASSPHRASE": "wrong"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "WrongPassphrase"
    assert result.stderr == ""


def test_second_open_in_another_process_gets_profile_locked(profile: Path) -> None:
    """While one process has the profile open, another gets ProfileLocked; after it closes,
    the profile opens again."""
    keys = KeyringKeys(None)
    _with_a_message(profile, keys, PASSPHRASE)
    env = {**os.environ, "TUI_OMEMO_TEST_PASSPHRASE": PASSPHRASE}
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.store.child", "hold", str(profile)],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(ProfileLocked, match="already open"):
            open_profile(profile, keys, PASSPHRASE)
    finally:
        holder.communicate("", timeout=60)
    with open_profile(profile, keys, PASSPHRASE) as db, db.snapshot() as uow:
        assert uow.settings.get("greeting") == "hello"


def test_second_open_in_the_same_process_gets_profile_locked(
    profile: Path, keys: KeyringKeys
) -> None:
    """The lock is per open, so a second open in one process is refused as well."""
    with open_profile(profile, keys), pytest.raises(ProfileLocked):
        open_profile(profile, keys)


def test_default_profile_dir_prefers_argument_then_environment(tmp_path: Path) -> None:
    """An explicit directory wins over TUI_OMEMO_HOME, which wins over the platform default."""
    assert default_profile_dir(tmp_path / "a", {"TUI_OMEMO_HOME": "/x"}) == tmp_path / "a"
    assert default_profile_dir(None, {"TUI_OMEMO_HOME": str(tmp_path / "b")}) == tmp_path / "b"
    fallback = default_profile_dir(None, {})
    assert fallback.is_absolute()
    assert "tui-omemo" in str(fallback)


def test_inspect_profile_reads_no_secret(profile: Path, keys: KeyringKeys) -> None:
    """Before creation nothing exists; afterwards the key source is known without a key."""
    assert inspect_profile(profile).database_exists is False
    assert not needs_passphrase(profile, keys)
    _with_a_message(profile, keys)
    info = inspect_profile(profile)
    assert (info.database_exists, info.key_source) == (True, KeySource.KEYRING)
