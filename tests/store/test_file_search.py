"""Search over file messages (issue 18): a file message is found by its file name and shown
as that name; the link's fragment (the file's key) is never indexed nor in a snippet, for
messages archived now and for those archived before schema step 6."""

from __future__ import annotations

from pathlib import Path

import sqlcipher3

from tests.store.test_archive import BOB, message
from tui_omemo.store import Database
from tui_omemo.store.migrations import MIGRATIONS, migrate
from tui_omemo.store.passphrase import RawKey
from tui_omemo.store.sql import Connection

KEY = "ab" * 12 + "cd" * 32
LINK = f"aesgcm://upload.example.org/slot/9f3e/quarterly%20report.pdf#{KEY}"


def _snippets(db: Database, text: str) -> list[str]:
    with db.snapshot() as uow:
        return [hit.snippet_text for hit in uow.archive.search(text)]


def test_a_file_message_is_found_by_name_and_never_shows_its_key(db: Database) -> None:
    """Searching the file's name finds the message and the snippet is the name; the key, the
    scheme and the upload path are not searchable; a text that mentions a link among other
    words is searchable without the link's fragment."""
    with db.unit_of_work() as uow:
        uow.archive.append(message(1, LINK))
        uow.archive.append(message(2, f"old link aesgcm://h.example/x/notes.txt#{KEY} here"))
    assert _snippets(db, "quarterly report.pdf") == ["quarterly report.pdf"]
    assert _snippets(db, "report*") == ["quarterly report.pdf"]
    for secret in (KEY, KEY[:24], "9f3e", "cd" * 32):
        assert _snippets(db, secret) == []
    assert _snippets(db, "aesgcm") == ["old link aesgcm://h.example/x/notes.txt here"]
    assert _snippets(db, "notes.txt") == ["old link aesgcm://h.example/x/notes.txt here"]
    with db.snapshot() as uow:
        stored = uow.archive.get(1)
        assert stored is not None
        assert stored.body == LINK  # the download still has its key
    with db.unit_of_work() as uow:
        uow.archive.delete_conversation(BOB)
    assert _snippets(db, "report.pdf") == []


def _body_row(connection: Connection, index: int, body: str) -> None:
    connection.execute(
        "INSERT INTO archive (peer, direction, sender_bare_jid, body, timestamp, received_at, "
        "seq) VALUES (?, 'in', ?, ?, ?, ?, ?)",
        (BOB, BOB, body, index, index, index),
    )


def test_step_6_reindexes_older_file_messages_without_their_keys(tmp_path: Path) -> None:
    """A version-5 profile's file message becomes searchable by its name and no longer by its
    key; an ordinary message keeps its words; a text carrying a link is kept out of search."""
    connection: Connection = sqlcipher3.connect(str(tmp_path / "v5.db"), isolation_level=None)
    connection.execute(RawKey.generate().pragma())
    migrate(connection, MIGRATIONS[:5])
    _body_row(connection, 1, f"aesgcm://upload.example.org/slot/ab/plan.odt#{KEY}")
    _body_row(connection, 2, "the plan for tomorrow")
    _body_row(connection, 3, f"see aesgcm://h.example/a/b.txt#{KEY} please")
    found = connection.execute("SELECT rowid FROM archive_fts WHERE archive_fts MATCH ?", (KEY,))
    assert [row[0] for row in found] == [1, 3]  # step 5's index holds the key

    db = Database.attach(connection, tmp_path)
    assert sorted(_snippets(db, "plan")) == ["plan.odt", "the plan for tomorrow"]
    assert _snippets(db, KEY) == []
    assert _snippets(db, "please") == []
    db.close()
