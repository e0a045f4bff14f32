"""Rooms in the app: the join dialog's empty nick is the account's localpart, a room with
nobody else shows "only you here" and lists us among the occupants, a room that allows OMEMO
does not ask about plaintext, /invite invites in a room (and is refused elsewhere), and F8
leaves the room after asking."""

from __future__ import annotations

from textual.widgets import OptionList, Static

from tests.fakes_ui import BOB, ROOM, FakeService
from tests.ui.helpers import SIZE, make_app, settle
from tests.ui.test_slash import type_in_chat
from tui_omemo.service.api import ChatSecurity, ChatSummary, Presence
from tui_omemo.ui.dialogs.confirm import ConfirmDialog
from tui_omemo.ui.dialogs.plaintext import PlaintextDialog
from tui_omemo.ui.screens.group import GroupChatScreen
from tui_omemo.ui.screens.roster import RosterScreen
from tui_omemo.ui.widgets.composer import Composer
from tui_omemo.ui.widgets.roster_list import RosterList

NEW_ROOM = "new@rooms.example.org"


async def test_join_with_an_empty_nick_uses_the_localpart(service: FakeService) -> None:
    """Ctrl+G, the room, Enter, Enter: joined as "alice" (of alice@example.org), and the
    room's chat opens (it was the roster, where a filter typed before could hide the room)."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press(*"bob")  # the roster filter, left from looking for Bob
        await pilot.press("ctrl+g")
        await settle(pilot)
        await pilot.press(*"open@rooms.example.org", "enter", "enter")
        await settle(pilot, 8)
        assert ("join_room", ("open@rooms.example.org", "alice")) in service.calls
        assert isinstance(app.screen, GroupChatScreen)
        assert app.screen.peer == "open@rooms.example.org"


async def test_a_room_with_only_us_says_so_and_lists_us(service: FakeService) -> None:
    """Badge "only you here", ourselves in the occupant list; sending asks nothing about
    plaintext (the service says why nothing went out)."""
    service.add_chat(
        ChatSummary(NEW_ROOM, "new", True, Presence.ONLINE, 0, ChatSecurity.ALONE, None)
    )
    app = make_app(service, open_chat=NEW_ROOM)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 6)
        assert isinstance(app.screen, GroupChatScreen)
        assert "only you here" in str(app.screen.query_one("#badge", Static).render())
        occupants = app.screen.query_one("#occupants", OptionList)
        assert str(occupants.get_option_at_index(0).prompt) == "alice  (you)"
        await pilot.press(*"anyone?", "enter")
        await settle(pilot)
        assert not isinstance(app.screen, PlaintextDialog)
        assert any(name == "send_to_room" for name, _ in service.calls)


async def test_invite_in_a_room_and_not_elsewhere(service: FakeService) -> None:
    """/invite JID in the tea room invites (and says membership was granted); in Bob's chat
    it is an error and stays typed."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        composer = await type_in_chat(app, pilot, *"/invite zoe@example.org", "enter")
        assert composer.text == "/invite zoe@example.org"
        assert not any(name == "invite" for name, _ in service.calls)
        app.open_chat(ROOM)
        await settle(pilot)
        composer = app.screen.query_one(Composer)
        composer.focus()
        await pilot.press(*"/invite zoe@example.org", "enter")
        await settle(pilot)
        assert ("invite", (ROOM, "zoe@example.org")) in service.calls
        assert composer.text == ""
        assert any("made a member" in str(n.message) for n in app._notifications)


async def test_f8_leaves_the_room_after_asking(service: FakeService) -> None:
    """F8 in a room asks; Escape stays; confirmed, the room is left, its screen closes and
    its roster row is gone."""
    app = make_app(service, open_chat=ROOM)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 6)
        assert isinstance(app.screen, GroupChatScreen)
        await pilot.press("f8")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, GroupChatScreen)
        assert not any(name == "leave_room" for name, _ in service.calls)
        await pilot.press("f8")
        await settle(pilot)
        await pilot.click("#act")
        await settle(pilot)
        assert ("leave_room", (ROOM,)) in service.calls
        assert isinstance(app.screen, RosterScreen)
        rows = app.screen.query_one(RosterList)
        assert all(chat.jid != ROOM for chat in rows.chats)


async def test_join_typed_in_a_chat_opens_the_room(service: FakeService) -> None:
    """ "/join ROOM" in Bob's chat joins as "alice" and the room's chat takes its place."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_chat(BOB)
        await settle(pilot)
        await pilot.press(*f"/join {NEW_ROOM}", "enter")
        await settle(pilot, 8)
        assert ("join_room", (NEW_ROOM, "alice")) in service.calls
        assert isinstance(app.screen, GroupChatScreen)
        assert app.screen.peer == NEW_ROOM
