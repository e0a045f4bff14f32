"""File messages in the encrypted archive: reading one back for `tui-omemo download` (which
needs no login: the link and its key are in the profile), and remembering where a file
message was saved (path, size, SHA-256) once downloaded."""

from __future__ import annotations

from pathlib import Path

from tui_omemo.protocol.media_link import MediaLink, file_link
from tui_omemo.service.api_files import SavedFile
from tui_omemo.service.clock import now_ms
from tui_omemo.store import Database
from tui_omemo.store.saved_files import SavedFileRecord


def stored_file_link(database: Database, peer: str, archive_id: int) -> MediaLink | None:
    """The file link of message `archive_id` in the chat with `peer`; None when there is no
    such message there or it is not a file message."""
    with database.snapshot() as uow:
        message = uow.archive.get(archive_id)
    if message is None or message.peer != peer:
        return None
    return file_link(message.body)


def saved_record(archive_id: int, saved: SavedFile) -> SavedFileRecord:
    """The archive's row for message `archive_id` saved as `saved`, stamped now."""
    return SavedFileRecord(archive_id, str(saved.path), saved.size, saved.sha256, now_ms())


def as_saved(record: SavedFileRecord) -> SavedFile:
    """The API's view of a stored download."""
    return SavedFile(Path(record.path), record.size, record.sha256)


def record_saved(database: Database, archive_id: int, saved: SavedFile) -> None:
    """Remember that message `archive_id` was saved as `saved`."""
    with database.unit_of_work() as uow:
        uow.saved_files.record(saved_record(archive_id, saved))
