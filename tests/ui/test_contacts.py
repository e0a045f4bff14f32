"""Contacts in the app: the roster row shows a subscription that is not mutual in words, the
trust manager opened for a contact fetches its device lists (no notification brings them
while our request is pending), /remove asks before removing, /nick names the contact."""

from __future__ import annotations

from tests.fakes_ui import BOB, DAVE, ROOM, FakeService
from tests.ui.helpers import SIZE, make_app, settle
from tests.ui.test_slash import type_in_chat
from tui_omemo.service.api import ChatSecurity, ChatSummary, Presence, Subscription
from tui_omemo.ui.dialogs.confirm import ConfirmDialog
from tui_omemo.ui.dialogs.plaintext import PlaintextDialog
from tui_omemo.ui.screens.chat import ChatScreen
from tui_omemo.ui.screens.roster import RosterScreen
from tui_omemo.ui.screens.trust import TrustScreen
from tui_omemo.ui.widgets.composer import Composer
from tui_omemo.ui.widgets.roster_list import RosterList

ZOE = "zoe@example.org"


def _rows(app: object) -> dict[str, str]:
    roster = app.screen.query_one(RosterList)  # type: ignore[attr-defined]
    return {
        str(option.id): str(option.prompt)
        for option in (roster.get_option_at_index(i) for i in range(roster.option_count))
    }


async def test_roster_rows_show_a_subscription_that_is_not_mutual(service: FakeService) -> None:
    """A pending request of ours reads "request pending"; a mutual subscription shows
    nothing; the others are said in words."""
    service.add_chat(
        ChatSummary(
            ZOE,
            "Zoe",
            False,
            Presence.OFFLINE,
            0,
            ChatSecurity.NO_OMEMO,
            None,
            subscription=Subscription.PENDING,
        )
    )
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        rows = _rows(app)
        assert "request pending" in rows[ZOE]
        assert "pending" not in rows[BOB]
        assert "one-way" not in rows[BOB]
        await app.service.add_contact("yann@example.org")
        await app.refresh_roster()
        await settle(pilot)
        assert "request pending" in _rows(app)["yann@example.org"]


async def test_the_trust_manager_for_a_contact_fetches_its_device_lists(
    service: FakeService,
) -> None:
    """/devices opens the trust manager on the contact and fetches its device lists."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_in_chat(app, pilot, *"/devices", "enter")
        await settle(pilot)
        assert isinstance(app.screen, TrustScreen)
        assert ("refresh_device_list", (BOB,)) in service.calls


async def test_remove_asks_first_and_then_removes_the_contact(service: FakeService) -> None:
    """/remove: Cancel keeps Bob; Remove removes him, closes his chat, drops his roster row.
    In a room it is an error."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_in_chat(app, pilot, *"/remove", "enter")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("escape")
        await settle(pilot)
        assert not any(name == "remove_contact" for name, _ in service.calls)
        assert isinstance(app.screen, ChatScreen)
        await pilot.press(*"/remove", "enter")
        await settle(pilot)
        await pilot.click("#act")
        await settle(pilot)
        assert ("remove_contact", (BOB,)) in service.calls
        assert isinstance(app.screen, RosterScreen)
        assert BOB not in _rows(app)
        assert DAVE in _rows(app)
        app.open_chat(ROOM)
        await settle(pilot)
        composer = app.screen.query_one(Composer)
        composer.focus()
        await pilot.press(*"/remove", "enter")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        assert composer.text == "/remove"


async def test_nick_names_the_contact(service: FakeService) -> None:
    """/nick Bobby Tables names Bob so; the roster row follows."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        composer = await type_in_chat(app, pilot, *"/nick Bobby Tables", "enter")
        await settle(pilot)
        assert ("rename_contact", (BOB, "Bobby Tables")) in service.calls
        assert composer.text == ""
        app.pop_screen()
        await settle(pilot)
        assert _rows(app)[BOB].startswith("● Bobby Tables")


async def test_plaintext_sends_one_message_unencrypted_after_asking(service: FakeService) -> None:
    """/plaintext MESSAGE asks first (Escape sends nothing), then sends the message as typed,
    spacing kept, with allow_plaintext; in a room it is refused."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_in_chat(app, pilot, *"/plaintext not  secret", "enter")
        assert isinstance(app.screen, PlaintextDialog)
        await pilot.press("escape")
        await settle(pilot)
        assert not any(name == "send" for name, _ in service.calls)
        await pilot.press(*"/plaintext not  secret", "enter")
        await settle(pilot)
        await pilot.click("#plaintext")
        await settle(pilot)
        assert ("send", (BOB, "not  secret", True)) in service.calls
        app.open_chat(ROOM)
        await settle(pilot)
        app.screen.query_one(Composer).focus()
        await pilot.press(*"/plaintext hi", "enter")
        await settle(pilot)
        assert not isinstance(app.screen, PlaintextDialog)
