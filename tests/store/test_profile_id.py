"""The keyring entry of a profile is named by a random id kept in profile.json: a moved
profile still opens, a new profile where a deleted one lived gets a new key, and a profile
whose entry an older version named by its path keeps opening and moves to an id."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.store.conftest import DictKeyring
from tui_omemo.store import KeyringKeys, keyring_entry, open_profile


def _profile_id(profile: Path) -> str:
    value: str = json.loads((profile / "profile.json").read_text())["profile_id"]
    return value


def test_moved_profile_opens_and_a_new_one_at_its_old_path_gets_a_new_key(
    tmp_path: Path, keys: KeyringKeys, dict_keyring: DictKeyring
) -> None:
    """The entry is named by the id, not the path: the profile opens after a move, and a
    profile created at the old path gets another id and another key."""
    old, moved = tmp_path / "old", tmp_path / "moved"
    with open_profile(old, keys) as db, db.unit_of_work() as uow:
        uow.settings.set("k", "v")
    ((_, entry),) = dict_keyring.entries
    assert entry == _profile_id(old) == keyring_entry(old)
    shutil.move(old, moved)
    with open_profile(moved, keys) as db, db.snapshot() as uow:
        assert uow.settings.get("k") == "v"
    with open_profile(old, keys):
        pass
    assert _profile_id(old) != _profile_id(moved)
    assert keys.load(_profile_id(old)) != keys.load(_profile_id(moved))


def test_entry_named_by_path_keeps_opening_and_moves_to_an_id(
    profile: Path, keys: KeyringKeys, dict_keyring: DictKeyring
) -> None:
    """A profile.json without an id and an entry named by the path (an older version's
    profile) opens; afterwards the key is under a new id written to profile.json and the
    path-named entry is gone; it keeps opening."""
    with open_profile(profile, keys) as db, db.unit_of_work() as uow:
        uow.settings.set("k", "v")
    ((service, entry),) = dict_keyring.entries
    stored = dict_keyring.entries.pop((service, entry))
    dict_keyring.entries[(service, str(profile.resolve()))] = stored
    (profile / "profile.json").write_text('{"format": 1, "key_source": "keyring"}\n')
    assert keyring_entry(profile) == str(profile.resolve())
    with open_profile(profile, keys) as db, db.snapshot() as uow:
        assert uow.settings.get("k") == "v"
    new_id = _profile_id(profile)
    assert new_id != entry
    assert dict_keyring.entries == {(service, new_id): stored}
    with open_profile(profile, keys) as db, db.snapshot() as uow:
        assert uow.settings.get("k") == "v"
