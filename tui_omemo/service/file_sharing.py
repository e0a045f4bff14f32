"""`FileSharing`: the app's face of encrypted file sharing (`api.FileShare`).

It joins the file transfer (`service.files` over a `FileTransport`) to the chat service: a
file is uploaded encrypted and its `aesgcm://` link sent as an OMEMO message to a contact or a
joined room through the ordinary send path (which never sends such a link in plaintext); a
file message is downloaded into the downloads directory. Built by the composition root once
the service is online.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from tui_omemo.protocol.media_link import file_link
from tui_omemo.service.api import ChatMessage, SendReport
from tui_omemo.service.api_files import SavedFile, TransferProgress
from tui_omemo.service.file_messages import as_saved, saved_record
from tui_omemo.service.files import FileShareError, FileTransport, download_file, upload_file
from tui_omemo.service.runner import DbRunner


class _Chats(Protocol):
    """The two sends `FileSharing` needs of the chat service."""

    async def send(self, peer: str, text: str, *, allow_plaintext: bool = False) -> SendReport:
        """Send to a contact."""
        ...

    async def send_to_room(
        self, room: str, text: str, *, allow_plaintext: bool = False, allow_partial: bool = False
    ) -> SendReport:
        """Send to a joined room."""
        ...


class FileSharing:
    """Send and save files for one online account."""

    def __init__(
        self,
        transport: FileTransport,
        chats: _Chats,
        directory: Path,
        runner: DbRunner | None = None,
    ) -> None:
        """`runner`: the profile's database, where each download is remembered (none: not
        remembered)."""
        self._transport = transport
        self._chats = chats
        self._directory = directory
        self._runner = runner

    @property
    def directory(self) -> Path:
        """Where downloads are saved."""
        return self._directory

    async def send_file(
        self,
        peer: str,
        path: Path,
        progress: TransferProgress | None = None,
        *,
        room: bool,
        allow_partial: bool = False,
    ) -> SendReport:
        """See `api.FileShare.send_file`."""
        link = await upload_file(self._transport, path, progress)
        if room:
            return await self._chats.send_to_room(peer, link.text(), allow_partial=allow_partial)
        return await self._chats.send(peer, link.text())

    async def download(
        self,
        message: ChatMessage,
        progress: TransferProgress | None = None,
        *,
        limit: int | None = None,
    ) -> SavedFile:
        """See `api.FileShare.download`."""
        link = file_link(message.body)
        if link is None:
            raise FileShareError("this message is not a file")
        saved = await download_file(self._transport, link, self._directory, progress, limit)
        if self._runner is not None:
            record = saved_record(message.archive_id, saved)
            await self._runner.write(lambda uow: uow.saved_files.record(record))
        return saved

    async def saved(self, message: ChatMessage) -> SavedFile | None:
        """See `api.FileShare.saved`."""
        if self._runner is None or message.file is None:
            return None
        record = await self._runner.read(lambda uow: uow.saved_files.get(message.archive_id))
        return None if record is None else as_saved(record)
