"""Contacts and presence in the app (issue 17): a subscription request marks its roster row and
is answered in a dialog (allow / deny / allow and add; Escape decides later), /status sets our
show and status message, and a contact's status message is shown as text."""

from __future__ import annotations

from tests.fakes_ui import FakeService
from tests.ui.helpers import SIZE, make_app, settle
from tests.ui.test_slash import type_in_chat
from tui_omemo.service.api import ConnectionChanged
from tui_omemo.ui.app import TuiOmemoApp
from tui_omemo.ui.dialogs.subscription import SubscriptionDialog
from tui_omemo.ui.screens.roster import RosterScreen
from tui_omemo.ui.widgets.roster_list import ASKS_WORDS, RosterList

ZOE = "zoe@example.org"


def _row(app: TuiOmemoApp, jid: str) -> str:
    roster = app.screen.query_one(RosterList)
    option = roster.get_option(jid)
    return str(option.prompt)


async def _answer(service: FakeService, *keys: str, button: str | None = None) -> str:
    """Zoe asks; the roster filter finds her row, Enter opens the question, `keys` or
    `button` answer it; her row as shown afterwards."""
    service.ask_subscription(ZOE, "[b]let me in[/b]")
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert ASKS_WORDS in _row(app, ZOE)
        assert "[b]let me in[/b]" in _row(app, ZOE)  # peer text, never markup
        await pilot.press(*"zoe", "enter")
        await settle(pilot)
        assert isinstance(app.screen, SubscriptionDialog)
        await pilot.press(*keys)
        if button is not None:
            await pilot.click(button)
        await settle(pilot)
        assert isinstance(app.screen, RosterScreen)
        app.screen.query_one("#filter").clear()  # type: ignore[attr-defined]
        await settle(pilot)
        return _row(app, ZOE)
    raise AssertionError("unreachable")


async def test_allow_and_add_answers_the_request_and_clears_the_mark(
    service: FakeService,
) -> None:
    """ "Allow and add": the service is told (allow, add), and the row's mark goes."""
    row = await _answer(service, button="#add")
    assert ("answer_subscription", (ZOE, True, True)) in service.calls
    assert ASKS_WORDS not in row


async def test_deny_refuses_and_escape_decides_later(service: FakeService) -> None:
    """Escape answers nothing (the mark stays); Deny refuses without adding."""
    row = await _answer(service, "escape")
    assert not [call for call in service.calls if call[0] == "answer_subscription"]
    assert ASKS_WORDS in row
    await _answer(service, button="#deny")
    assert ("answer_subscription", (ZOE, False, False)) in service.calls


async def test_slash_status_sets_show_and_message(service: FakeService) -> None:
    """/status away back soon stores both; an unknown show word is an error that changes
    nothing."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        composer = await type_in_chat(app, pilot, *"/status sleeping", "enter")
        assert not [call for call in service.calls if call[0] == "update_setting"]
        assert composer.text == "/status sleeping"
        composer.clear()
        await pilot.press(*"/status away back  soon", "enter")
        await settle(pilot)
        assert ("update_setting", ("show", "away")) in service.calls
        assert ("update_setting", ("status_message", "back  soon")) in service.calls
        assert any("Your status: away: back  soon" in n.message for n in app._notifications)


def _title(app: TuiOmemoApp) -> str:
    return str(app.screen.query_one("#roster-title").render())


async def test_our_status_shows_in_the_roster_title(service: FakeService) -> None:
    """After /status away with a text, back on the roster its title says "away: TEXT" (as
    plain text: brackets stay brackets); /status online without text shows the title as
    before any status was set."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        composer = await type_in_chat(app, pilot, *"/status away back [b]soon", "enter")
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        assert isinstance(app.screen, RosterScreen)
        assert _title(app).endswith(f"{service.own_jid} · away: back [b]soon")
        composer = await type_in_chat(app, pilot, *"/status online", "enter")
        assert composer.text == ""
        await pilot.press("f5")
        await settle(pilot)
        assert _title(app) == f"tui-omemo · {service.own_jid}"  # as before any /status


async def test_the_roster_title_says_online_offline_and_our_status(service: FakeService) -> None:
    """Connected without a status: "online"; with "away" and a text set: "away: TEXT";
    disconnected: "offline", whatever our status."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        service.emit(ConnectionChanged(True, "connected"))
        await settle(pilot)
        assert _title(app) == f"tui-omemo · {service.own_jid} · online"
        await service.update_setting("show", "dnd")
        await service.update_setting("status_message", "in a meeting")
        service.emit(ConnectionChanged(False, "lost"))
        await settle(pilot)
        assert _title(app).endswith(" · offline")
        assert isinstance(app.screen, RosterScreen)
        app.screen.read_presence()
        service.emit(ConnectionChanged(True, "back"))
        await settle(pilot)
        assert _title(app) == f"tui-omemo · {service.own_jid} · dnd: in a meeting"
