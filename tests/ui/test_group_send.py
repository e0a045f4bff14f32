"""Pilot tests of a refused room send: the partial-send dialog only when skipping members
without keys would reach somebody (`SendFailed.partial_possible`), else one line saying why."""

from __future__ import annotations

from textual.widgets import Static

from tests.fakes_ui import ROOM, FakeService
from tests.ui.helpers import SIZE, make_app, settle
from tui_omemo.ui.dialogs.partial_send import PartialSendDialog
from tui_omemo.ui.screens.group import NOBODY_HAS_KEYS, GroupChatScreen
from tui_omemo.ui.widgets.composer import Composer


async def test_nobody_with_keys_gets_a_line_not_the_dialog() -> None:
    """Nobody in the room has keys: no dialog, nothing sent, partial never chosen, the
    composer keeps the text and one line explains that skipping cannot help."""
    service = FakeService()
    service.remove_room_keys()
    app = make_app(service, open_chat=ROOM)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 6)
        assert isinstance(app.screen, GroupChatScreen)
        await pilot.press(*"hello", "enter")
        await settle(pilot)
        assert isinstance(app.screen, GroupChatScreen)
        line = app.screen.query_one("#send-problem", Static)
        assert not line.has_class("-hidden")
        assert str(line.render()) == NOBODY_HAS_KEYS
        assert app.screen.query_one(Composer).text == "hello"
        names = [name for name, _ in service.calls]
        assert "send" not in names
        assert "set_partial_choice" not in names


async def test_the_dialog_clears_the_line_once_a_send_went_out(service: FakeService) -> None:
    """With some members holding keys the dialog is offered; after choosing to skip, the
    message goes out and no problem line is left."""
    app = make_app(service, open_chat=ROOM)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 6)
        await pilot.press(*"hello", "enter")
        await settle(pilot)
        assert isinstance(app.screen, PartialSendDialog)
        await pilot.click("#partial")
        await settle(pilot)
        assert isinstance(app.screen, GroupChatScreen)
        assert app.screen.query_one("#send-problem", Static).has_class("-hidden")
        assert ("set_partial_choice", (ROOM, True)) in service.calls
