"""Schema steps 3 and 4 (fewer pages per commit), and 5 after them: an old profile is
upgraded and still searched, the old OMEMO state table leaves no copy of its key material
behind, a message is searchable as soon as it is archived, a deleted conversation takes
exactly its dedupe keys along, and rewriting an unchanged row writes nothing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import sqlcipher3

from tests.store.test_archive import BOB, CAROL, message
from tui_omemo.model import Namespace
from tui_omemo.store import Database, KeyringKeys, open_profile
from tui_omemo.store.migrations import LATEST_VERSION, MIGRATIONS, migrate
from tui_omemo.store.passphrase import RawKey
from tui_omemo.store.records import StateRecord
from tui_omemo.store.sql import Connection
from tui_omemo.store.trust import LAST_MESSAGE_RESOLUTION_MS

SESSION_KEY = "session/urn:xmpp:omemo:2/bob@example.org/1001"
# Bigger than a WITHOUT ROWID row keeps in its page: the v2 table stored it in overflow.
SESSION_VALUE = '{"ratchet":"' + "k" * 2500 + '","version":3}'
MARKER = "old-chain-key-0123456789abcdef-marker"


def _version_2(connection: Connection, directory: Path) -> Database:
    """A database at schema version 2 (before step 3), with the app's pragmas."""
    for pragma in ("PRAGMA journal_mode = WAL", "PRAGMA secure_delete = ON"):
        connection.execute(pragma)
    assert migrate(connection, MIGRATIONS[:2]) == [1, 2]
    return Database(connection, directory)


_OLD_INSERT = (  # the archive as steps 1-4 left it (no seq: step 5 adds it)
    "INSERT INTO archive (peer, direction, sender_bare_jid, body, timestamp, received_at, "
    "trust, omemo_version, stanza_id, flags) VALUES (?, 'in', ?, ?, ?, ?, 'verified', '2', ?, '{}')"
)


def _fill(db: Database, connection: Connection) -> None:
    for index, body, peer in (
        (1, "let us meet at the café tomorrow", BOB),
        (2, "nothing to see", BOB),
        (3, "cafe again, later", CAROL),
    ):
        new = message(index, body, peer=peer)
        cursor = connection.execute(
            _OLD_INSERT, (peer, peer, body, new.timestamp, new.received_at, new.stanza_id)
        )
        connection.execute(
            "INSERT INTO dedupe (key, archive_id) VALUES (?, ?)",
            (new.dedupe_keys[0], cursor.lastrowid),
        )
    with db.unit_of_work() as uow:
        uow.state.store(SESSION_KEY, 3, SESSION_VALUE)
        uow.state.store("identity", 1, '{"version":1}')
        uow.settings.set("mam/last_stanza_id", "sid-3")


def _search_view(db: Database, text: str) -> list[tuple[int, str]]:
    with db.snapshot() as uow:
        return [(hit.message.id, hit.snippet_text) for hit in uow.archive.search(text)]


def test_a_version_2_profile_is_upgraded_and_still_searched(tmp_path: Path) -> None:
    """Steps 3 and 4 keep every state row, setting, message and dedupe key; search finds the
    old messages (with the same snippets) and new ones; the FTS index agrees with the
    archive; deleting a conversation still removes its keys."""
    connection: Connection = sqlcipher3.connect(str(tmp_path / "v2.db"), isolation_level=None)
    connection.execute(RawKey.generate().pragma())
    old = _version_2(connection, tmp_path)
    _fill(old, connection)
    fts = connection.execute(  # step 2's FTS index, queried directly
        "SELECT rowid FROM archive_fts WHERE archive_fts MATCH 'cafe' ORDER BY rowid"
    )
    assert [row[0] for row in fts] == [1, 3]

    db = Database.attach(connection, tmp_path)
    assert db.schema_version == LATEST_VERSION == 6
    assert {text: _search_view(db, text) for text in ("cafe", "caf*", "meet tomorrow")} == {
        "cafe": [(3, "cafe again, later"), (1, "let us meet at the café tomorrow")],
        "caf*": [(3, "cafe again, later"), (1, "let us meet at the café tomorrow")],
        "meet tomorrow": [(1, "let us meet at the café tomorrow")],
    }
    with db.snapshot() as uow:
        assert uow.state.load(SESSION_KEY) == StateRecord(SESSION_KEY, 3, SESSION_VALUE)
        assert [record.key for record in uow.state.list_prefix("")] == ["identity", SESSION_KEY]
        assert uow.settings.get("mam/last_stanza_id") == "sid-3"
        assert uow.dedupe.seen([f"stanza-{BOB}-1"]) is not None
    with db.unit_of_work() as uow:
        uow.archive.append(message(4, "another café after the upgrade"))
    assert len(_search_view(db, "cafe")) == 3
    with db.unit_of_work() as uow:
        assert uow.archive.delete_conversation(CAROL) == 1
    assert len(_search_view(db, "cafe")) == 2
    with db.snapshot() as uow:
        assert uow.dedupe.seen([f"stanza-{CAROL}-3"]) is None
        assert uow.dedupe.seen([f"stanza-{BOB}-1"]) is not None
    connection.execute("INSERT INTO archive_fts (archive_fts, rank) VALUES ('integrity-check', 1)")
    names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert "archive_fts_docsize" not in names
    assert names.isdisjoint({"omemo_state_v3", "dedupe_v4", "dedupe_archive"})
    db.close()


def test_the_upgrade_leaves_no_copy_of_the_old_state_rows(tmp_path: Path) -> None:
    """The v2 ``omemo_state`` pages are zeroed when step 3 drops them: after the upgrade the
    file holds one copy of a state value (the new table's), and none once it is deleted.

    The database is SQLCipher without a key (plaintext pages) so its bytes can be read.
    """
    path = tmp_path / "plain.db"
    connection: Connection = sqlcipher3.connect(str(path), isolation_level=None)
    old = _version_2(connection, tmp_path)
    with old.unit_of_work() as uow:
        uow.state.store("session/a", 3, f'{{"key":"{MARKER}","pad":"{"p" * 1200}"}}')
        uow.state.store("session/b", 3, f'{{"key":"{MARKER}-b"}}')
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert path.read_bytes().count(MARKER.encode()) == 2

    db = Database.attach(connection, tmp_path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert path.read_bytes().count(MARKER.encode()) == 2  # the new table's copies only
    with db.unit_of_work() as uow:
        assert uow.state.delete("session/a")
        assert uow.state.delete("session/b")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert MARKER.encode() not in path.read_bytes()
    db.close()


def test_a_message_is_found_as_soon_as_it_is_archived(db: Database) -> None:
    """Within the unit of work that archives it, and in every read after the commit."""
    with db.unit_of_work() as uow:
        archive_id = uow.archive.append(message(1, "zebra crossing"))
        assert [hit.message.id for hit in uow.archive.search("zebra")] == [archive_id]
    for number in range(2, 40):  # one commit each: the FTS segments merge meanwhile
        with db.unit_of_work() as uow:
            newest = uow.archive.append(message(number, f"zebra number {number}"))
        with db.snapshot() as uow:
            hits = uow.archive.search("zebra", limit=100)
            assert hits[0].message.id == newest
            assert len(hits) == number
            assert [part.text for part in hits[0].snippet if part.match] == ["zebra"]


def test_deleting_a_conversation_takes_exactly_its_dedupe_keys(db: Database) -> None:
    """Every key of the deleted conversation's messages goes, the others' stay, and the same
    message can be archived again afterwards."""
    with db.unit_of_work() as uow:
        for number in range(1, 7):
            peer = BOB if number % 2 else CAROL
            uow.archive.append(
                replace(
                    message(number, peer=peer),
                    dedupe_keys=(f"stanza-{peer}-{number}", f"origin-{number}"),
                )
            )
    with db.unit_of_work() as uow:
        assert uow.archive.delete_conversation(CAROL) == 3
    with db.snapshot() as uow:
        for number in range(1, 7):
            keys = [f"origin-{number}"]
            assert (uow.dedupe.seen(keys) is None) == (number % 2 == 0)
        assert uow.archive.count() == 3
    with db.unit_of_work() as uow:
        again = uow.archive.append(message(2, "back again", peer=CAROL))
    with db.snapshot() as uow:
        assert uow.dedupe.seen([f"stanza-{CAROL}-2"]) == again
        assert [hit.message.id for hit in uow.archive.search("back")] == [again]


def _wal_size(profile: Path) -> int:
    wal = profile / "tui-omemo.db-wal"
    return wal.stat().st_size if wal.exists() else 0


def test_rewriting_an_unchanged_row_writes_nothing(profile: Path, keys: KeyringKeys) -> None:
    """Storing the state or setting already stored leaves the WAL as it was; a change (of the
    value or of the format version) is written."""
    with open_profile(profile, keys) as db:
        with db.unit_of_work() as uow:
            uow.state.store(SESSION_KEY, 3, SESSION_VALUE)
            uow.settings.set("mam/last_stanza_id", "sid-1")
        written = _wal_size(profile)
        with db.unit_of_work() as uow:
            uow.state.store(SESSION_KEY, 3, SESSION_VALUE)
            uow.settings.set("mam/last_stanza_id", "sid-1")
        assert _wal_size(profile) == written
        with db.unit_of_work() as uow:
            uow.state.store(SESSION_KEY, 4, SESSION_VALUE)
        assert _wal_size(profile) > written
        with db.unit_of_work() as uow:
            uow.settings.set("mam/last_stanza_id", "sid-2")
        with db.snapshot() as uow:
            assert uow.state.load(SESSION_KEY) == StateRecord(SESSION_KEY, 4, SESSION_VALUE)
            assert uow.settings.get("mam/last_stanza_id") == "sid-2"


def test_a_burst_from_one_device_touches_its_row_once_a_minute(db: Database) -> None:
    """``last_message`` moves on a message more than a minute after the stored one (and
    from nothing); messages within the minute leave the row as it is; an earlier time (a
    clock set back, a test backdating a device) is still written."""
    minute = LAST_MESSAGE_RESOLUTION_MS
    seen = []
    with db.unit_of_work() as uow:
        uow.devices.apply_device_list(Namespace.V2, BOB, [7], now=0)
    for now in (1_000, 1_000 + minute, 1_001 + minute, 1_000 + 3 * minute, 5):
        with db.unit_of_work() as uow:
            uow.devices.touch_message(Namespace.V2, BOB, 7, now)
        with db.snapshot() as uow:
            seen.append(uow.devices.of(BOB)[0].last_message)
    assert seen == [1_000, 1_000, 1_001 + minute, 1_000 + 3 * minute, 5]


def test_an_overwritten_session_leaves_no_copy_of_its_old_keys(tmp_path: Path) -> None:
    """Rewriting a state row (same size or not) leaves no copy of the old value in the file
    once the WAL is checkpointed. SQLCipher without a key (plaintext pages), to read it."""
    path = tmp_path / "plain.db"
    connection: Connection = sqlcipher3.connect(str(path), isolation_level=None)
    db = Database.attach(connection, tmp_path)
    values = [
        f'{{"key":"{MARKER}-{number}","pad":"{"p" * size}"}}'
        for number, size in enumerate((1500, 1500, 900, 2400))
    ]
    for value in values:
        with db.unit_of_work() as uow:
            uow.state.store(SESSION_KEY, 3, value)
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        content = path.read_bytes()
        assert content.count(value.encode()) == 1
        assert content.count(MARKER.encode()) == 1
    db.close()


def test_superseded_session_values_do_not_outlive_a_checkpoint_in_the_wal(
    tmp_path: Path,
) -> None:
    """After a long transaction and many session updates, a checkpoint and one more write
    leave only the current value in the WAL file (its old tail is truncated, not kept).
    SQLCipher without a key (plaintext pages), to read it."""
    path = tmp_path / "plain.db"
    connection: Connection = sqlcipher3.connect(str(path), isolation_level=None)
    db = Database.attach(connection, tmp_path)
    with db.unit_of_work() as uow:  # grows the WAL, as a catch-up would
        for number in range(300):
            uow.settings.set(f"pad/{number}", "x" * 3000)
    for number in range(100):
        with db.unit_of_work() as uow:
            uow.state.store(SESSION_KEY, 3, f'{{"key":"{MARKER}-{number}"}}')
    wal = path.with_name(path.name + "-wal")
    assert wal.read_bytes().count(MARKER.encode()) == 100
    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
    with db.unit_of_work() as uow:
        uow.state.store(SESSION_KEY, 3, f'{{"key":"{MARKER}-current"}}')
    assert wal.read_bytes().count(MARKER.encode()) == 1
    db.close()
