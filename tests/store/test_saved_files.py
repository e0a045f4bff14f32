"""Saved files (issue 18): the archive remembers where a file message was downloaded to, with
its size and SHA-256, keyed by archive id; the row goes with its message."""

from __future__ import annotations

from tests.store.test_archive import BOB, message
from tui_omemo.store import Database
from tui_omemo.store.saved_files import SavedFileRecord


def test_a_download_is_remembered_replaced_and_deleted_with_its_message(db: Database) -> None:
    """`record` keeps the latest download of a message; `for_ids` answers only for saved
    ones; deleting the conversation deletes the rows."""
    with db.unit_of_work() as uow:
        first = uow.archive.append(message(1, "aesgcm://h.example/a/x.pdf#" + "0" * 88))
        other = uow.archive.append(message(2, "words"))
        uow.saved_files.record(SavedFileRecord(first, "/d/x.pdf", 5, "ab" * 32, 1))
        uow.saved_files.record(SavedFileRecord(first, "/d/x (1).pdf", 5, "ab" * 32, 2))
    with db.snapshot() as uow:
        assert uow.saved_files.get(first) == SavedFileRecord(first, "/d/x (1).pdf", 5, "ab" * 32, 2)
        assert uow.saved_files.get(other) is None
        assert set(uow.saved_files.for_ids([first, other, first])) == {first}
    with db.unit_of_work() as uow:
        uow.archive.delete_conversation(BOB)
    with db.snapshot() as uow:
        assert uow.saved_files.for_ids([first]) == {}
