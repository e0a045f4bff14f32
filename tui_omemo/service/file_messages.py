"""Reading a file message back from the encrypted archive, for `tui-omemo download` (which
needs no login: the link and its key are in the profile)."""

from __future__ import annotations

from tui_omemo.protocol.media_link import MediaLink, file_link
from tui_omemo.store import Database


def stored_file_link(database: Database, peer: str, archive_id: int) -> MediaLink | None:
    """The file link of message `archive_id` in the chat with `peer`; None when there is no
    such message there or it is not a file message."""
    with database.snapshot() as uow:
        message = uow.archive.get(archive_id)
    if message is None or message.peer != peer:
        return None
    return file_link(message.body)
