"""Replies in the app (issue #17, XEP-0461), over the contract-pinned fake service: `r` on a
message in the chat log starts a reply (the composer says which message), Enter sends it to the
contact as a reply to that message, and the log shows a "↪ reply to" line above it; Escape
gives up the reply."""

from __future__ import annotations

from tests.fakes_ui import CAROL, FakeService
from tests.ui.helpers import SIZE, make_app, settle
from tests.ui.test_app import open_chat
from tui_omemo.ui.widgets.composer import Composer
from tui_omemo.ui.widgets.message_log import MessageLog


async def test_r_replies_to_the_selected_message(service: FakeService) -> None:
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_chat(pilot, CAROL)
        log, composer = screen.query_one(MessageLog), screen.query_one(Composer)
        asked = service.receive(CAROL, "[b]lunch[/b] at noon?")
        await settle(pilot)
        log.focus()
        await pilot.press("r")
        await settle(pilot)
        assert composer.replying == asked.archive_id
        assert "replying to" in str(composer.border_title)
        await pilot.press("escape")
        assert composer.replying is None

        log.focus()
        await pilot.press("r")
        await pilot.press(*"noon is fine", "enter")
        await settle(pilot)
        assert [a for n, a in service.calls if n == "reply"] == [
            (CAROL, asked.archive_id, "noon is fine")
        ]
        assert (composer.text, composer.replying) == ("", None)
        assert (log.messages[-1].body, log.messages[-1].reply_to) == (
            "noon is fine",
            asked.message_id,
        )
        lines = [log.render_line(y).text for y in range(log.size.height)]
        above = lines.index(next(line for line in lines if "noon is fine" in line)) - 1
        assert "↪ reply to" in lines[above]
        assert "[b]lunch[/b] at noon?" in lines[above]  # peer text as plain text
