"""The message log keeps room for its scrollbar: when a chat grows long enough to scroll, no
wrapped line runs under the scrollbar (its last character was hidden there)."""

from __future__ import annotations

from tests.fakes_ui import CAROL, FakeService
from tests.ui.helpers import make_app, settle
from tui_omemo.service.api import MessageReceived
from tui_omemo.ui.widgets.message_log import MessageLog

SMALL = (80, 24)
BODY = "0123456789" * 15 + "Z"
"""Longer than a line and without spaces, so every line is filled to the last column."""


async def test_wrapped_lines_end_before_the_scrollbar(service: FakeService) -> None:
    """Carol's short chat has no scrollbar; thirty long messages later it has one, and every
    message between two others is painted whole: no character is under the scrollbar."""
    app = make_app(service)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        app.open_chat(CAROL)
        await settle(pilot)
        log = app.screen.query_one(MessageLog)
        for _ in range(30):
            service.emit(MessageReceived(service.next_message(CAROL, BODY)))
        await settle(pilot, 8)
        assert log.show_vertical_scrollbar
        painted = "".join(log.render_line(y).text.strip() for y in range(log.size.height))
        whole = painted.split("12:00 ✓ Carol:")[1:-1]
        assert whole
        assert all(text == BODY for text in whole)


WORDS = "words to make the line long enough to wrap at eighty columns " * 2
"""One line at 120 columns, two or three at 80: narrowing the terminal makes the log taller."""


def painted(log: MessageLog) -> str:
    return "\n".join(log.render_line(y).text for y in range(log.size.height))


async def test_the_newest_message_stays_in_view_when_the_terminal_shrinks(
    service: FakeService,
) -> None:
    """Following the newest message at 120×40, the newest one is still on screen after the
    terminal shrinks to 80×24 (narrower and shorter at once, then shorter only), instead of
    a page from the middle of the chat."""
    app = make_app(service)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_chat(CAROL)
        await settle(pilot)
        log = app.screen.query_one(MessageLog)
        for number in range(1, 41):
            service.emit(MessageReceived(service.next_message(CAROL, f"m{number:02} {WORDS}")))
        await settle(pilot, 8)
        assert "m40 " in painted(log)
        await pilot.resize_terminal(80, 24)
        await settle(pilot, 8)
        assert "m40 " in painted(log)
        await pilot.resize_terminal(80, 16)
        await settle(pilot, 8)
        assert "m40 " in painted(log)
