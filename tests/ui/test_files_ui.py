"""Files in the app (issue 18) on a fake service and a stand-in `FileShare` (the real one is
pinned over Prosody in tests/files): the message details of a file message (name, type, and
once downloaded the saved path, size and SHA-256), a saved file's line when its chat is
opened again, automatic download (off by default, with its cap), and the Ctrl+G file picker."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from tests.fakes_ui import BOB, FakeService
from tests.ui.helpers import SIZE, make_app, settle
from tests.ui.test_app import open_chat
from tui_omemo.service.api import ChatMessage, MessageReceived
from tui_omemo.service.api_files import FileInfo, SavedFile
from tui_omemo.service.files import FileShareError
from tui_omemo.ui.dialogs.file_picker import FilePickerDialog, VisibleFiles
from tui_omemo.ui.dialogs.message_detail import MessageDetailDialog
from tui_omemo.ui.widgets.composer import Composer
from tui_omemo.ui.widgets.message_log import MessageLog

DIGEST = "0123456789abcdef" * 4


class SavedOnly:
    """The one `FileShare` call the details need: the saved report.pdf, nothing else."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    async def saved(self, message: ChatMessage) -> SavedFile | None:
        self.asked.append(message.archive_id)
        return SavedFile(Path("/home/me/Downloads/report (1).pdf"), 5000, DIGEST)


async def _facts(service: FakeService, body: str) -> str:
    share = SavedOnly()
    app = make_app(service, files=lambda: share)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_chat(pilot, BOB)
        info = FileInfo("report.pdf", "application/pdf") if body.startswith("aesgcm") else None
        service.emit(MessageReceived(service.next_message(BOB, body, file=info)))
        await settle(pilot)
        await pilot.press("ctrl+l", "end", "enter")
        await settle(pilot)
        assert isinstance(app.screen, MessageDetailDialog)
        return str(app.screen.query_one("#facts", Static).render())


async def test_a_saved_file_shows_its_path_and_digest(service: FakeService) -> None:
    """The details of a downloaded file message name the file, the saved path, the size and
    the whole SHA-256 (in two halves); never the link."""
    facts = await _facts(service, "aesgcm://h.example/s/report.pdf#" + "0" * 88)
    assert "report.pdf (application/pdf)" in facts
    assert "Saved to  /home/me/Downloads/report (1).pdf" in facts
    assert "5000 bytes" in facts
    assert DIGEST[:32] in facts
    assert DIGEST[32:] in facts
    assert "aesgcm" not in facts


async def test_a_text_message_has_no_file_rows(service: FakeService) -> None:
    """An ordinary message's details have no file rows."""
    facts = await _facts(service, "just words")
    assert "Saved" not in facts
    assert "File" not in facts


class Recorder(SavedOnly):
    """Records each download asked for, with its limit."""

    def __init__(self) -> None:
        super().__init__()
        self.downloads: list[tuple[int, int | None]] = []

    async def download(
        self, message: ChatMessage, progress: object = None, *, limit: int | None = None
    ) -> SavedFile:
        self.downloads.append((message.archive_id, limit))
        return SavedFile(Path("/tmp/x.pdf"), 1, DIGEST)


async def _arrivals(service: FakeService, share: Recorder) -> list[int]:
    """Emit a file from Bob, a text from Bob and a file we sent; the ids of the two files."""
    app = make_app(service, files=lambda: share)
    info = FileInfo("report.pdf", "application/pdf")
    link = "aesgcm://h.example/s/report.pdf#" + "0" * 88
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        theirs = service.next_message(BOB, link, file=info)
        ours = service.next_message(BOB, link, file=info, outgoing=True)
        for message in (theirs, service.next_message(BOB, "words"), ours):
            service.emit(MessageReceived(message))
        await settle(pilot, 8)
    return [theirs.archive_id, ours.archive_id]


async def test_files_are_not_saved_automatically_by_default(service: FakeService) -> None:
    """With the default settings a received file waits for the user."""
    share = Recorder()
    await _arrivals(service, share)
    assert share.downloads == []


async def test_automatic_download_saves_received_files_under_the_cap(
    service: FakeService,
) -> None:
    """Switched on, a received file (not a text, not our own) is saved with the cap in bytes."""
    await service.update_setting("auto_download_files", "on")
    await service.update_setting("auto_download_max_mib", "3")
    share = Recorder()
    theirs, _ours = await _arrivals(service, share)
    assert share.downloads == [(theirs, 3 * 1024 * 1024)]


class Sender(SavedOnly):
    """Records each file sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, Path, bool]] = []

    async def send_file(
        self,
        peer: str,
        path: Path,
        progress: object = None,
        *,
        room: bool,
        allow_partial: bool = False,
    ) -> object:
        self.sent.append((peer, path, room))
        return None


async def test_ctrl_g_picks_a_file_in_a_tree_and_sends_it(
    service: FakeService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl+G in a chat opens a directory tree of the home directory without hidden files;
    Enter on a file sends it to the chat's contact; Escape sends nothing."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".hidden").write_text("x")
    (tmp_path / "plan.txt").write_text("the plan")
    share = Sender()
    app = make_app(service, files=lambda: share)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_chat(pilot, BOB)
        await pilot.press("ctrl+g")
        await settle(pilot, 8)
        assert isinstance(app.screen, FilePickerDialog)
        tree = app.screen.query_one(VisibleFiles)
        assert [str(child.label) for child in tree.root.children] == ["plan.txt"]
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, FilePickerDialog)
        await pilot.press("ctrl+g")
        await settle(pilot, 8)
        await pilot.press("down", "enter")
        await settle(pilot, 8)
        assert not isinstance(app.screen, FilePickerDialog)
    assert share.sent == [(BOB, tmp_path / "plan.txt", False)]


async def test_a_chat_opened_again_shows_files_saved_earlier_as_saved(
    service: FakeService,
) -> None:
    """A file saved before (the record is in the store) shows "saved to PATH" on its line when
    its chat is opened again, instead of offering "d: download" as a new file (pressing it
    saved a second copy, `name (1).ext`)."""
    link = "aesgcm://h.example/s/report.pdf#" + "0" * 88
    service.receive(BOB, link, file=FileInfo("report.pdf", "application/pdf"))
    share = SavedOnly()
    app = make_app(service, files=lambda: share)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_chat(pilot, BOB)
        await settle(pilot)
        log = app.screen.query_one(MessageLog)
        painted = "\n".join(log.render_line(y).text for y in range(log.size.height))
        assert "report.pdf" in painted
        assert "saved to /home/me/Downloads/report (1).pdf" in painted
        assert "d: download" not in painted


class Refusing(SavedOnly):
    """Refuses every file as the real one refuses a missing path, before any byte leaves."""

    async def send_file(
        self,
        peer: str,
        path: Path,
        progress: object = None,
        *,
        room: bool,
        allow_partial: bool = False,
    ) -> object:
        raise FileShareError(f"no such file: {path}")


async def test_a_file_not_sent_keeps_its_line_to_correct(service: FakeService) -> None:
    """A mistyped path: the reason is shown and "/file PATH" stays in the composer to be
    corrected (it was cleared as if the file had gone)."""
    share = Refusing()
    app = make_app(service, files=lambda: share)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_chat(pilot, BOB)
        await pilot.press(*"/file /tmp/nowhere/plan.txt", "enter")
        await settle(pilot, 8)
        assert app.screen.query_one(Composer).text == "/file /tmp/nowhere/plan.txt"
        notes = [str(n.message) for n in app._notifications]
        assert any("File not sent: no such file: /tmp/nowhere/plan.txt" in n for n in notes)
