"""The first minute with the app (issue 11), on the fake service pinned by tests/contract:
our own line shows the moment we send it, with its pending mark until the server has it, and a
chat opens for any JID, in the roster or not, offering to add the contact."""

from __future__ import annotations

from textual.widgets import Static

from tests.fakes_ui import BOB, FakeService, _device
from tests.ui.helpers import SIZE, make_app, settle
from tui_omemo.model import TrustLevel
from tui_omemo.service.api import Delivery
from tui_omemo.ui.screens.chat import ChatScreen
from tui_omemo.ui.widgets.message_log import PENDING_MARK, MessageLog

FRANK = "frank@example.org"


def painted(log: MessageLog) -> str:
    return "\n".join(
        "".join(segment.text for segment in log.render_line(y)) for y in range(log.size.height)
    )


async def test_our_line_shows_at_once_pending_then_delivered(service: FakeService) -> None:
    """Enter puts our line in the log before the server confirmed it (clock mark), and the
    confirmation takes the mark away; the chat is not reopened in between."""
    service.hold_delivery = True
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_chat(BOB)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        log = screen.query_one(MessageLog)
        await pilot.press(*"see me now", "enter")
        await settle(pilot)
        assert log.messages[-1].body == "see me now"
        assert log.messages[-1].delivery is Delivery.PENDING
        assert "see me now" in painted(log)
        assert PENDING_MARK in painted(log)
        service.deliver(log.messages[-1].archive_id)
        await settle(pilot)
        assert PENDING_MARK not in painted(log)
        assert [m.delivery for m in log.messages if m.body == "see me now"] == [Delivery.SENT]


async def test_a_jid_not_in_the_roster_opens_its_chat_and_offers_adding(
    service: FakeService,
) -> None:
    """`open JID` for someone not in the roster lands in their chat (not on the roster with an
    error); a message goes out at once, and F9 adds the contact, after which the offer goes."""
    service._devices.append(_device(FRANK, 6001, TrustLevel.BLINDLY_TRUSTED))
    app = make_app(service, open_chat=FRANK)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        assert screen.peer == FRANK
        offer = screen.query_one("#add-offer", Static)
        assert not offer.has_class("-hidden")
        assert "not in your contacts" in str(offer.render())
        await pilot.press(*"hello frank", "enter")
        await settle(pilot)
        assert ("send", (FRANK, "hello frank", False)) in service.calls
        assert screen.query_one(MessageLog).messages[-1].body == "hello frank"
        await pilot.press("f9")
        await settle(pilot)
        assert ("add_contact", (FRANK,)) in service.calls
        assert offer.has_class("-hidden")
        assert any(chat.jid == FRANK for chat in await service.chats())


async def test_a_roster_contact_gets_no_offer(service: FakeService) -> None:
    """Bob is in the roster: no offer, and F9 does nothing."""
    app = make_app(service, open_chat=BOB)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ChatScreen)
        assert app.screen.query_one("#add-offer", Static).has_class("-hidden")
        await pilot.press("f9")
        await settle(pilot)
        assert not any(name == "add_contact" for name, _ in service.calls)
