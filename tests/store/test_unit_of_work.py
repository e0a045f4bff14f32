"""Units of work: one transaction for everything DESIGN.md §3.1 commits together, undone
whole by an exception, a crash or a full disk; and the small repositories inside them."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tests.store.conftest import PASSPHRASE, fingerprint
from tui_omemo.model import Arrival, Namespace, TrustLevel
from tui_omemo.store import (
    Account,
    ConstraintViolation,
    Database,
    Direction,
    KeyringKeys,
    NestedUnitOfWork,
    NewMessage,
    RosterItem,
    StoreError,
    WrongPassphrase,
    open_profile,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
BOB = "bob@example.org"
SESSION = f"session/{Namespace.V2.value}/{BOB}/1"


def _message(index: int) -> NewMessage:
    return NewMessage(
        peer=BOB,
        direction=Direction.IN,
        sender_bare_jid=BOB,
        body=f"committed {index}",
        timestamp=index,
        received_at=index,
        dedupe_keys=(f"committed-{index}",),
    )


def _seed(db: Database) -> int:
    """The committed state the failure tests must find again."""
    with db.unit_of_work() as uow:
        inbox_id = uow.inbox.add(b"<encrypted/>", Arrival.LIVE, 1)
        uow.state.store(SESSION, 1, '{"chain": "old"}')
        uow.archive.append(_message(1))
    return inbox_id


def _assert_seed_intact(db: Database) -> None:
    with db.snapshot() as uow:
        assert uow.archive.count() == 1
        assert uow.inbox.count() == 1
        state = uow.state.load(SESSION)
        assert state is not None
        assert state.value == '{"chain": "old"}'


def test_pipeline_writes_commit_together(db: Database) -> None:
    """Session state, archive row, dedupe key and inbox deletion land in one commit."""
    inbox_id = _seed(db)
    with db.unit_of_work() as uow:
        uow.state.store(SESSION, 2, '{"chain": "new"}')
        archive_id = uow.archive.append(_message(2))
        assert uow.inbox.delete(inbox_id)
    with db.snapshot() as uow:
        assert uow.inbox.count() == 0
        assert uow.dedupe.seen(["committed-2"]) == archive_id
        assert uow.state.load(SESSION) == uow.state.load(SESSION)
        assert uow.state.load(SESSION).version == 2  # type: ignore[union-attr]


def test_exception_in_a_unit_of_work_rolls_everything_back(db: Database) -> None:
    """Any exception inside the block undoes all of its writes and propagates unchanged."""
    inbox_id = _seed(db)

    class Boom(Exception):
        pass

    def process_then_fail() -> None:
        with db.unit_of_work() as uow:
            uow.state.store(SESSION, 2, '{"chain": "new"}')
            uow.archive.append(_message(2))
            uow.inbox.delete(inbox_id)
            raise Boom

    with pytest.raises(Boom):
        process_then_fail()
    _assert_seed_intact(db)


def test_snapshot_discards_writes(db: Database) -> None:
    """A snapshot is read-only in effect: what it writes is rolled back."""
    with db.snapshot() as uow:
        uow.settings.set("x", 1)
    with db.snapshot() as uow:
        assert uow.settings.get("x") is None


def _child(action: str, profile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.store.child", action, str(profile)],
        cwd=REPO_ROOT,
        env={**os.environ, "TUI_OMEMO_TEST_PASSPHRASE": PASSPHRASE},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_process_killed_mid_unit_of_work_leaves_the_previous_state(profile: Path) -> None:
    """A child that dies (os._exit) halfway through a multi-row unit of work leaves the last
    committed state: old session, inbox entry kept, no new archive rows."""
    keys = KeyringKeys(None)
    with open_profile(profile, keys, PASSPHRASE) as db:
        _seed(db)
    result = _child("crash", profile)
    assert result.returncode == 17, result.stderr
    with open_profile(profile, keys, PASSPHRASE) as db:
        _assert_seed_intact(db)


def test_full_disk_raises_disk_full_and_rolls_back(profile: Path) -> None:
    """Under a file-size limit a big unit of work raises DiskFull, is rolled back in the
    same process, and the database opens afterwards with the old content."""
    keys = KeyringKeys(None)
    with open_profile(profile, keys, PASSPHRASE) as db:
        _seed(db)
    result = _child("diskfull", profile)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["DiskFull", "unchanged"]
    with open_profile(profile, keys, PASSPHRASE) as db:
        _assert_seed_intact(db)
        db.check_integrity()


def test_closed_database_refuses_work(profile: Path, keys: KeyringKeys) -> None:
    """Using a closed database raises StoreError rather than a driver error."""
    db = open_profile(profile, keys)
    db.close()
    with pytest.raises(StoreError, match="closed"), db.unit_of_work():
        pass


def test_omemo_state_load_store_delete_and_prefix(db: Database) -> None:
    """The OMEMO core's key/value API: versioned JSON by key, prefix listing in key order."""
    with db.unit_of_work() as uow:
        uow.state.store("identity", 1, '{"ik": "..."}')
        uow.state.store(f"session/{Namespace.V2.value}/{BOB}/2", 1, "{}")
        uow.state.store(f"session/{Namespace.V2.value}/{BOB}/1", 1, "{}")
        uow.state.store(f"session/{Namespace.V2.value}/{BOB}x/1", 1, "{}")
        uow.state.store("identity", 2, '{"ik": "new"}')
    with db.unit_of_work() as uow:
        identity = uow.state.load("identity")
        assert identity is not None
        assert (identity.version, identity.value) == (2, '{"ik": "new"}')
        prefix = f"session/{Namespace.V2.value}/{BOB}/"
        assert [r.key.rsplit("/", 1)[1] for r in uow.state.list_prefix(prefix)] == ["1", "2"]
        assert uow.state.delete_prefix(prefix) == 2
        assert uow.state.delete("identity")
        assert not uow.state.delete("identity")
        assert uow.state.load("identity") is None
        assert len(uow.state.list_prefix("session/")) == 1


def test_inbox_keeps_failures_and_order(db: Database) -> None:
    """Pending stanzas come back in arrival order with their failed attempts counted."""
    with db.unit_of_work() as uow:
        first = uow.inbox.add(b"one", Arrival.MAM, 10)
        uow.inbox.add(b"two", Arrival.CARBON_RECEIVED, 11)
        uow.inbox.record_failure(first, "bad tag")
    with db.snapshot() as uow:
        pending = uow.inbox.pending()
    assert [(item.stanza, item.source, item.attempts) for item in pending] == [
        (b"one", Arrival.MAM, 1),
        (b"two", Arrival.CARBON_RECEIVED, 0),
    ]
    assert pending[0].last_error == "bad tag"
    with db.snapshot() as uow:
        assert [item.stanza for item in uow.inbox.held()] == [b"one"]  # a failed attempt


def test_trust_decisions_are_per_identity_key_with_history(db: Database) -> None:
    """Trust belongs to (bare JID, device, identity key); each change is in the history."""
    key_a, key_b = b"\x05" + bytes(32), b"\x05" + b"\x01" * 32
    with db.unit_of_work() as uow:
        assert uow.trust.record_identity(BOB, 7, key_a, now=1) is TrustLevel.UNDECIDED
        uow.trust.set_trust(BOB, 7, key_a, TrustLevel.VERIFIED, now=2, actor="user")
        assert uow.trust.record_identity(BOB, 7, key_a, now=3) is TrustLevel.VERIFIED
        assert uow.trust.record_identity(BOB, 7, key_b, now=4) is TrustLevel.UNDECIDED
    with db.snapshot() as uow:
        assert uow.trust.get(BOB, 7, key_a) is TrustLevel.VERIFIED
        assert [r.trust for r in uow.trust.identities(BOB)] == [
            TrustLevel.VERIFIED,
            TrustLevel.UNDECIDED,
        ]
        (change,) = uow.trust.history(BOB, 7)
    assert (change.old_trust, change.new_trust, change.actor) == (
        TrustLevel.UNDECIDED,
        TrustLevel.VERIFIED,
        "user",
    )


def test_device_list_marks_missing_devices_inactive_and_never_deletes(db: Database) -> None:
    """A new device list activates listed devices and only deactivates the others."""
    with db.unit_of_work() as uow:
        uow.devices.apply_device_list(Namespace.V2, BOB, [1, 2], now=10, labels={1: "phone"})
        uow.devices.apply_device_list(Namespace.V2, BOB, [2, 3], now=20)
        uow.devices.touch_message(Namespace.V2, BOB, 2, now=25)
    with db.snapshot() as uow:
        devices = {d.device_id: d for d in uow.devices.of(BOB, Namespace.V2)}
    assert {i: d.active for i, d in devices.items()} == {1: False, 2: True, 3: True}
    assert devices[1].label == "phone"
    assert (devices[2].first_seen, devices[2].last_seen, devices[2].last_message) == (10, 20, 25)


def test_account_roster_settings_and_security_events_round_trip(db: Database) -> None:
    """The small repositories store and return what they were given."""
    account = Account("me@example.org", "s3cret", "127.0.0.1", 5222, True, 99)
    with db.unit_of_work() as uow:
        uow.account.save(account)
        uow.roster.replace_all([RosterItem(BOB, "Bob", "both", ("friends",))])
        uow.settings.set("trust_mode", "btbv")
        uow.security_events.add("device_added", 5, peer=BOB, device_id=7, detail={"n": 1})
    with db.snapshot() as uow:
        assert uow.account.get() == account
        assert uow.roster.all() == [RosterItem(BOB, "Bob", "both", ("friends",))]
        assert uow.settings.all() == {"trust_mode": "btbv"}
        (event,) = uow.security_events.recent(peer=BOB)
    assert (event.kind, event.device_id, event.detail) == ("device_added", 7, {"n": 1})
    assert "s3cret" not in repr(account)


def test_nested_unit_of_work_is_refused_and_the_outer_one_rolls_back(db: Database) -> None:
    """Opening a unit of work inside another raises NestedUnitOfWork; nothing is kept."""

    def nested() -> None:
        with db.unit_of_work() as outer:
            outer.settings.set("outer", 1)
            with db.unit_of_work():
                pass

    with pytest.raises(NestedUnitOfWork):
        nested()
    with db.snapshot() as uow:
        assert uow.settings.get("outer") is None


def test_invalid_record_is_a_constraint_violation_and_rolls_back(db: Database) -> None:
    """A record the schema rejects raises ConstraintViolation (a StoreError), undoing the
    whole unit of work."""
    bad = replace(_message(1), omemo_version="1.0")

    def write() -> None:
        with db.unit_of_work() as uow:
            uow.settings.set("before", 1)
            uow.archive.append(bad)

    with pytest.raises(ConstraintViolation, match="constraint"):
        write()
    with db.snapshot() as uow:
        assert uow.settings.get("before") is None


def test_wrong_passphrase_after_a_crash_leaves_wal_and_shm_untouched(profile: Path) -> None:
    """After a crash leaves -wal/-shm behind, a wrong passphrase changes none of the files;
    the right one then recovers the committed state."""
    keys = KeyringKeys(None)
    with open_profile(profile, keys, PASSPHRASE) as db:
        _seed(db)
    assert _child("crash", profile).returncode == 17
    before = fingerprint(profile)
    assert "tui-omemo.db-wal" in before
    with pytest.raises(WrongPassphrase):
        open_profile(profile, keys, PASSPHRASE + "!")
    assert fingerprint(profile) == before
    with open_profile(profile, keys, PASSPHRASE) as db:
        _assert_seed_intact(db)
