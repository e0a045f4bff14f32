"""Service events that reach a chat screen while it is being taken down are ignored, not a crash
(the UI benchmark closed a chat as a roster change arrived, and the app died with `NoMatches`)."""

from __future__ import annotations

from tests.fakes_ui import BOB, FakeService
from tests.ui.helpers import make_app, settle
from tui_omemo.service.api import MessageReceived, RosterChanged
from tui_omemo.ui.app import TuiOmemoApp
from tui_omemo.ui.screens.chat import ChatScreen


async def test_a_roster_change_during_teardown_is_ignored() -> None:
    service = FakeService()
    service.generate(BOB, 3)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        chat = next(c for c in await service.chats() if c.jid == BOB)
        app.push_screen(ChatScreen(service, chat, app.clock))
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        await screen.query_one("#chat-title").remove()  # half taken down: the log is still there
        screen.service_event(RosterChanged(chat))
        await settle(pilot)
        assert app.return_code is None
        assert app.is_running


def test_an_event_after_the_last_screen_closed_is_dropped() -> None:
    """As the app exits its screens go first; an event still queued then must not raise
    `ScreenStackError` from the alerts (seen in CI: three journeys failed at exit)."""
    service = FakeService()
    app = make_app(service)
    assert not app.screen_stack
    message = service.next_message(BOB, "late")
    app._service_event(TuiOmemoApp.ServiceEventArrived(MessageReceived(message)))
