"""Issue 17, a pilot journey of the delivery marks in a chat: our line is pending (clock) until
the server has it (no mark), then "delivered" once a device of the contact has it (receipt),
then "read" (displayed marker); a late server confirmation never lowers the mark; the message
detail says how far it got in words."""

from __future__ import annotations

from textual.widgets import Static

from tests.fakes_ui import CAROL, FakeService
from tests.ui.helpers import SIZE, make_app, settle
from tui_omemo.service.api import Delivery, MessageDelivered
from tui_omemo.ui.dialogs.message_detail import MessageDetailDialog
from tui_omemo.ui.screens.chat import ChatScreen
from tui_omemo.ui.widgets.message_log import PENDING_MARK, MessageLog

TEXT = "Are you coming tonight?"


def line_of(log: MessageLog, text: str) -> str:
    """The painted line of the log holding `text`."""
    lines = ("".join(s.text for s in log.render_line(y)) for y in range(log.size.height))
    return next(line for line in lines if text in line)


async def test_our_line_goes_pending_sent_received_read(service: FakeService) -> None:
    service.hold_delivery = True
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_chat(CAROL)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        log = screen.query_one(MessageLog)
        await pilot.press(*TEXT, "enter")
        await settle(pilot)
        archive_id = log.messages[-1].archive_id
        assert PENDING_MARK in line_of(log, TEXT)

        service.deliver(archive_id)
        await settle(pilot)
        assert PENDING_MARK not in line_of(log, TEXT)
        assert "delivered" not in line_of(log, TEXT)

        service.acknowledge(archive_id, Delivery.RECEIVED)
        await settle(pilot)
        assert "12:00 delivered " in line_of(log, TEXT)

        service.acknowledge(archive_id, Delivery.READ)
        await settle(pilot)
        assert "12:00 read " in line_of(log, TEXT)
        service.emit(MessageDelivered(archive_id, CAROL))  # a late server confirmation
        await settle(pilot)
        assert "12:00 read " in line_of(log, TEXT)
        assert log.messages[-1].delivery is Delivery.READ

        await pilot.press("ctrl+l", "end", "enter")  # the message detail says it in words
        await settle(pilot)
        assert isinstance(app.screen, MessageDetailDialog)
        facts = str(app.screen.query_one("#facts", Static).render())
        assert "Delivery  read: the contact had the chat on screen" in facts
