"""Sending and saving files from a chat (issue 18): `/file PATH` and the download key.

Both run on the app's `FileShare` (none when the app runs without a server, e.g. in UI tests
with a fake service: then they say files are not available). Progress goes to the chat's
transfer line (`#transfer`: a bar while a file uploads) and, for a download, to the file
message's own line in the log; the outcome is a notification. Every text shown that came
from a peer or the file system goes through `neutral`, never as markup.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from textual.widgets import Static

from tui_omemo.service.api import ChatMessage, MessageReceived, SendFailed
from tui_omemo.service.api_files import FileShare, SavedFile
from tui_omemo.ui.slash import SlashError
from tui_omemo.ui.text import neutral
from tui_omemo.ui.widgets.message_log import MessageLog

if TYPE_CHECKING:
    from textual.screen import Screen

    from tui_omemo.ui.app import TuiOmemoApp

BAR_WIDTH = 20
MIB = 1024 * 1024


def bar(done: int, total: int | None) -> str:
    """`▓▓▓▓░░░░ 45%` for a transfer (`…` while the total is unknown)."""
    if not total:
        return "…"
    share = min(1.0, done / total)
    filled = round(share * BAR_WIDTH)
    return "▓" * filled + "░" * (BAR_WIDTH - filled) + f" {int(share * 100)}%"


@runtime_checkable
class PartialFileOffer(Protocol):
    """A screen that offers "send to everyone with keys" for a file a room refused
    (`GroupChatScreen`)."""

    def offer_partial_file(self, typed: str, error: SendFailed) -> None:
        """Ask, and send the file at `typed` again skipping members without keys if chosen."""
        ...


def _files(app: TuiOmemoApp) -> FileShare:
    files = app.files
    if files is None:
        raise SlashError("Files cannot be sent or saved here: no upload service is connected.")
    return files


def _transfer_line(screen: Screen[object]) -> Static | None:
    found = screen.query("#transfer")
    return found.first(Static) if found else None


def typed_path(typed: str) -> Path:
    """The path typed after `/file` (`~` expanded; the service says if it is no file)."""
    return Path(os.path.expanduser(typed.strip()))


async def send_file(
    app: TuiOmemoApp, peer: str, typed: str, *, allow_partial: bool = False
) -> None:
    """Upload the file at `typed` (a path; `~` expanded) encrypted and send it to `peer`.

    A room that refused it for members without keys while others have keys: the screen it
    was sent from offers "everyone with keys" (`PartialFileOffer`), which sends it again with
    `allow_partial` (uploaded again: the refused upload's link was never sent).

    Raises:
        SlashError: no file sharing here, or the file was not sent (no such file, too large,
            a refusal of the server): the reason, and the typed line stays to be corrected.
    """
    files = _files(app)
    path = typed_path(typed)
    room = any(chat.jid == peer and chat.is_room for chat in await app.service.chats())
    screen = app.screen
    line = _transfer_line(screen)
    name = neutral(path.name, single_line=True)

    def progress(done: int, total: int | None) -> None:
        if line is not None:
            line.update(f"uploading {name} {bar(done, total)}")

    if line is not None:
        line.set_class(False, "-hidden")
        progress(0, None)
    try:
        await files.send_file(peer, path, progress, room=room, allow_partial=allow_partial)
    except SendFailed as error:
        if room and error.partial_possible and isinstance(screen, PartialFileOffer):
            screen.offer_partial_file(typed, error)
            return
        raise SlashError(f"File not sent: {error}") from error
    except Exception as error:  # a refusal in words: no such file, too large, no service, HTTP
        raise SlashError(f"File not sent: {error}") from error
    else:
        app.notify(f"Sent {name}.", markup=False)
    finally:
        if line is not None:
            line.set_class(True, "-hidden")


async def download(
    app: TuiOmemoApp,
    log: MessageLog | None,
    message: ChatMessage,
    *,
    limit: int | None = None,
) -> None:
    """Save the file `message` offers; its line (in `log`, if shown) has the progress, then
    where it went. `limit`: the most bytes to accept (automatic downloads)."""
    if message.file is None:
        return
    try:
        files = _files(app)
    except SlashError as error:
        app.notify(str(error), severity="error", markup=False)
        return

    def note(text: str) -> None:
        if log is not None:
            log.set_note(message.archive_id, text)

    def progress(done: int, total: int | None) -> None:
        note(f"downloading {bar(done, total)}")

    progress(0, None)
    try:
        saved = await files.download(message, progress, limit=limit)
    except Exception as error:  # the tag check, HTTP, disk, the cap: nothing was kept
        note("not saved")
        app.notify(str(error), title="Download failed", severity="error", markup=False)
        return
    shown = neutral(str(saved.path), single_line=True)
    note(f"saved to {shown}")
    app.notify(f"Saved to {shown}", markup=False)


def auto_download(app: TuiOmemoApp, event: object) -> None:
    """Start saving the file of a message just received from a contact or a room, when the
    settings ask for automatic downloads (off by default; only encrypted aesgcm:// files, which
    are the only ones a message offers: a https:// link is never fetched by itself)."""
    if not isinstance(event, MessageReceived):
        return
    message = event.message
    if message.file is None or message.outgoing or app.files is None:
        return
    app.run_worker(
        _auto_download(app, message), group="files", description="automatic download",
        exit_on_error=False,
    )  # fmt: skip


async def _auto_download(app: TuiOmemoApp, message: ChatMessage) -> None:
    settings = await app.service.settings()
    if not settings.auto_download_files:
        return
    screen = app.screen
    shown = getattr(screen, "peer", None) == message.peer and screen.query(MessageLog)
    log = screen.query_one(MessageLog) if shown else None
    await download(app, log, message, limit=settings.auto_download_max_mib * MIB)


async def saved(app: TuiOmemoApp, message: ChatMessage) -> SavedFile | None:
    """Where the file of `message` was saved, if it was (None without file sharing)."""
    files = app.files
    if message.file is None or files is None:
        return None
    return await files.saved(message)


async def show_saved(app: TuiOmemoApp, log: MessageLog, messages: Iterable[ChatMessage]) -> None:
    """Mark the file messages among `messages` that were saved earlier with where they went
    (as after a download), so that a chat opened again does not offer them as new."""
    for message in messages:
        found = await saved(app, message)
        if found is not None:
            log.set_note(
                message.archive_id, f"saved to {neutral(str(found.path), single_line=True)}"
            )


def complete_path(text: str) -> str:
    """`/file PARTIAL` completed to the longest unambiguous path (a `/` after a directory)."""
    prefix, _, partial = text.partition(" ")
    typed = partial.lstrip()
    expanded = os.path.expanduser(typed) or "."
    directory, start = os.path.split(expanded)
    try:
        names = sorted(n for n in os.listdir(directory or ".") if n.startswith(start))
    except OSError:
        return text
    if not names:
        return text
    common = os.path.commonprefix(names)  # noqa: RUF071 (names, not paths: by character)
    completed = typed[: len(typed) - len(start)] + common
    if len(names) == 1 and os.path.isdir(os.path.join(directory or ".", common)):
        completed += "/"
    return f"{prefix} {completed}"
