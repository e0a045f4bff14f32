"""The real Secret Service (gnome-keyring in dbus-run-session): the profile key is kept
there, found again on reopen, and its loss is reported instead of replaced."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.store.conftest import fingerprint
from tui_omemo.store import KeyringEntryMissing, KeyringKeys, keyring_entry, open_profile

pytestmark = pytest.mark.keyring


def test_new_profile_key_lives_in_the_secret_service(
    profile: Path, secret_service_keys: KeyringKeys
) -> None:
    """Creating a profile stores a 32-byte key in the keyring and nowhere on disk; reopening
    with the same keyring works."""
    with open_profile(profile, secret_service_keys) as db, db.unit_of_work() as uow:
        uow.settings.set("k", "v")
    entry = keyring_entry(profile)
    assert entry is not None
    key = secret_service_keys.load(entry)
    assert key is not None
    for name in os.listdir(profile):
        content = (profile / name).read_bytes()
        assert key.material not in content
        assert key.material.hex().encode() not in content
    with open_profile(profile, secret_service_keys) as db, db.snapshot() as uow:
        assert uow.settings.get("k") == "v"


def test_deleted_secret_service_entry_gives_keyring_entry_missing(
    profile: Path, secret_service_keys: KeyringKeys
) -> None:
    """With the entry deleted from the real keyring, opening fails clearly, makes no new
    key and leaves the files untouched."""
    with open_profile(profile, secret_service_keys):
        pass
    entry = keyring_entry(profile)
    assert entry is not None
    secret_service_keys.delete(entry)
    before = fingerprint(profile)
    with pytest.raises(KeyringEntryMissing):
        open_profile(profile, secret_service_keys)
    assert secret_service_keys.load(entry) is None
    assert fingerprint(profile) == before


def test_secret_service_entry_named_by_path_moves_to_the_profile_id(
    profile: Path, secret_service_keys: KeyringKeys
) -> None:
    """A profile made by an older version (entry named by its path, no id in profile.json)
    opens from the real keyring; its key is then stored under a new id and the path-named
    entry is removed."""
    with open_profile(profile, secret_service_keys) as db, db.unit_of_work() as uow:
        uow.settings.set("k", "v")
    entry = keyring_entry(profile)
    assert entry is not None
    key = secret_service_keys.load(entry)
    assert key is not None
    secret_service_keys.delete(entry)
    legacy = str(profile.resolve())
    secret_service_keys.save(legacy, key)
    (profile / "profile.json").write_text('{"format": 1, "key_source": "keyring"}\n')
    with open_profile(profile, secret_service_keys) as db, db.snapshot() as uow:
        assert uow.settings.get("k") == "v"
    moved = keyring_entry(profile)
    assert moved not in (None, legacy, entry)
    assert secret_service_keys.load(moved) == key  # type: ignore[arg-type]
    assert secret_service_keys.load(legacy) is None
