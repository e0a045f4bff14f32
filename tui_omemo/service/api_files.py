"""The part of the service API about encrypted file sharing (issue 18), beside `service.api`
(which is at its size limit): what the UI sees of it — a file message's `FileInfo`, a
downloaded `SavedFile`, and the `FileShare` port the app sends and saves files through
(`service.file_sharing.FileSharing`). Values and protocols only; it imports nothing below the
service API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tui_omemo.service.api import ChatMessage, SendReport


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What a file message shows before download: a name and a guessed type (no key).
    `size` is None until downloaded: the link does not carry it, and a link from a contact
    is never fetched without the user asking."""

    name: str
    type: str
    size: int | None = None


TransferProgress = Callable[[int, int | None], None]
"""Hears (bytes done, bytes in all or None when unknown)."""


@dataclass(frozen=True, slots=True)
class SavedFile:
    """A downloaded, verified file."""

    path: Path
    size: int
    sha256: str


class FileShare(Protocol):
    """Sending and saving files in chats (implemented by `FileSharing`)."""

    @property
    def directory(self) -> Path:
        """Where downloads are saved."""
        ...

    async def send_file(
        self,
        peer: str,
        path: Path,
        progress: TransferProgress | None = None,
        *,
        room: bool,
        allow_partial: bool = False,
    ) -> SendReport:
        """Upload `path` encrypted and send its link to `peer` (a contact or joined room).

        `allow_partial`: in a room, the user's choice of "everyone with keys" (as for
        `send_to_room`; remembered for the room).

        Raises:
            FileShareError, TransportError: before anything was sent; SendFailed: uploaded
                but the message could not be encrypted for anyone (in a room,
                `partial_possible` as for `send_to_room`: sending again with `allow_partial`
                uploads it again and skips the members without keys).
        """
        ...

    async def download(
        self,
        message: ChatMessage,
        progress: TransferProgress | None = None,
        *,
        limit: int | None = None,
    ) -> SavedFile:
        """Fetch, decrypt, verify and save the file of `message` (refused when larger than
        `limit` bytes, if given).

        Raises:
            FileShareError, MediaError, TransportError: nothing is kept then.
        """
        ...

    async def saved(self, message: ChatMessage) -> SavedFile | None:
        """Where the file of `message` was last saved (path, size, SHA-256), if it was."""
        ...
