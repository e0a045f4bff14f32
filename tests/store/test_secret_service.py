"""The real Secret Service (gnome-keyring in dbus-run-session): the profile key is kept
there, found again on reopen, and its loss is reported instead of replaced."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.store.conftest import fingerprint
from tui_omemo.store import KeyringEntryMissing, KeyringKeys, open_profile

pytestmark = pytest.mark.keyring


def test_new_profile_key_lives_in_the_secret_service(
    profile: Path, secret_service_keys: KeyringKeys
) -> None:
    """Creating a profile stores a 32-byte key in the keyring and nowhere on disk; reopening
    with the same keyring works."""
    with open_profile(profile, secret_service_keys) as db, db.unit_of_work() as uow:
        uow.settings.set("k", "v")
    key = secret_service_keys.load(profile)
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
    secret_service_keys.delete(profile)
    before = fingerprint(profile)
    with pytest.raises(KeyringEntryMissing):
        open_profile(profile, secret_service_keys)
    assert secret_service_keys.load(profile) is None
    assert fingerprint(profile) == before
