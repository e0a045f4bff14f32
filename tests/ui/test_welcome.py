"""The welcome panel: a note handed to the app (the demo's narration) shows once over the first
screen — over the chat opened from the command line too — and Escape closes it; the
composition root reads it from the file TUI_OMEMO_WELCOME_FILE names."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from tests.fakes_ui import BOB, FakeService
from tests.ui.helpers import SIZE, make_app, settle
from tui_omemo.commands.app import WELCOME_ENV, welcome_text
from tui_omemo.ui.dialogs.welcome import WelcomeDialog
from tui_omemo.ui.screens.chat import ChatScreen
from tui_omemo.ui.screens.roster import RosterScreen

NOTE = "You are alice. Bob's fingerprint: 36120786 d7291c52 [b]not markup[/b]"


async def test_the_welcome_note_shows_once_over_the_opened_chat(service: FakeService) -> None:
    """With a chat to open, the note is on top of it, as plain text; Escape shows the chat,
    and the note does not come back when another chat opens."""
    app = make_app(service, open_chat=BOB, welcome=NOTE)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 6)
        assert isinstance(app.screen, WelcomeDialog)
        assert NOTE in str(app.screen.query_one("#welcome-text", Static).render())
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ChatScreen)
        app.open_chat(BOB)
        await settle(pilot)
        assert not isinstance(app.screen, WelcomeDialog)


async def test_without_a_chat_the_note_shows_over_the_roster(service: FakeService) -> None:
    app = make_app(service, welcome=NOTE)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, WelcomeDialog)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, RosterScreen)


def test_the_composition_root_reads_the_note_from_the_named_file(tmp_path: Path) -> None:
    """The file's text; None without the variable or for a file that cannot be read."""
    note = tmp_path / "welcome.txt"
    note.write_text(NOTE, encoding="utf-8")
    assert welcome_text({WELCOME_ENV: str(note)}) == NOTE
    assert welcome_text({}) is None
    assert welcome_text({WELCOME_ENV: str(tmp_path / "missing")}) is None
