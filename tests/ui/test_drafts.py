"""Unsent text survives leaving its chat: Escape (or another chat) with a half-written
message, and the chat opened again has it in the composer; sending it forgets it."""

from __future__ import annotations

from tests.fakes_ui import BOB, CAROL, FakeService
from tests.ui.helpers import SIZE, make_app, settle
from tests.ui.test_app import open_chat
from tui_omemo.ui.screens.roster import RosterScreen
from tui_omemo.ui.widgets.composer import Composer


async def test_a_half_written_message_waits_in_its_chat(service: FakeService) -> None:
    """Typed in Bob's chat, Escape to the roster, Carol's chat (its own composer empty), Bob's
    again: the text is there to go on with, and opening it sends no "composing"; Enter sends
    it and the next visit starts empty."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_chat(pilot, BOB)
        await pilot.press(*"half a thought")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, RosterScreen)
        await open_chat(pilot, CAROL)
        assert app.screen.query_one(Composer).text == ""
        await pilot.press("escape")
        await settle(pilot)
        service.chat_states.clear()
        await open_chat(pilot, BOB)
        await settle(pilot)
        composer = app.screen.query_one(Composer)
        assert composer.text == "half a thought"
        assert (BOB, "composing") not in service.chat_states
        await pilot.press(*", finished", "enter")
        await settle(pilot)
        assert [args for name, args in service.calls if name == "send"][-1][1] == (
            "half a thought, finished"
        )
        await pilot.press("escape")
        await settle(pilot)
        await open_chat(pilot, BOB)
        assert app.screen.query_one(Composer).text == ""
