"""Peer text is data (DESIGN.md §3.9): markup, escapes and bidi controls show as text, do nothing.

A contact whose name, status, room nick and message bodies carry Textual markup (`[@click=…]`),
Rich markup, an ANSI colour escape and a right-to-left override must appear literally (minus
the control characters) and clicking on them must not run any action.
"""

from __future__ import annotations

import dataclasses

from tests.fakes_ui import NOW, FakeService
from tests.ui.helpers import SIZE, make_app, settle
from tui_omemo.model import Namespace
from tui_omemo.service.api import (
    ChatMessage,
    ChatSecurity,
    ChatSummary,
    MemberReadiness,
    MessageTrust,
    Presence,
    RoomInfo,
)
from tui_omemo.ui.screens.chat import ChatScreen
from tui_omemo.ui.screens.group import GroupChatScreen
from tui_omemo.ui.text import neutral
from tui_omemo.ui.widgets.message_log import MessageLog
from tui_omemo.ui.widgets.roster_list import RosterList

HOSTILE = "[@click=app.quit]click me[/] [b]bold[/b] \x1b[31mred\x1b[0m \u202eevil\u2066x\u2069"
EVIL = "evil@example.org"


HOSTILE_ROOM = "den@rooms.example.org"


class HostileService(FakeService):
    """Adds a room whose subject and member nicks are hostile too."""

    async def room_info(self, room: str) -> RoomInfo:
        if room != HOSTILE_ROOM:
            return await super().room_info(room)
        member = MemberReadiness(EVIL, HOSTILE, True, 1, 0, 0, last_error=HOSTILE)
        return RoomInfo(HOSTILE_ROOM, "alice", HOSTILE, True, None, (member,))


def hostile_service() -> FakeService:
    service = HostileService()
    room = ChatSummary(
        HOSTILE_ROOM,
        "[b]den[/b]",
        True,
        Presence.ONLINE,
        0,
        ChatSecurity.ALL_VERIFIED,
        Namespace.V2,
        status_text=HOSTILE,
    )
    nick_message = ChatMessage(
        9_000_003,
        HOSTILE_ROOM,
        False,
        EVIL,
        NOW,
        HOSTILE,
        MessageTrust.VERIFIED,
        Namespace.V2,
        7,
        nick=HOSTILE,
    )
    service.add_chat(room, [nick_message])
    chat = ChatSummary(
        EVIL,
        "[@click=app.quit]Eve[/]",
        False,
        Presence.ONLINE,
        1,
        ChatSecurity.ALL_VERIFIED,
        Namespace.V2,
        status_text=HOSTILE,
    )
    message = ChatMessage(
        9_000_001,
        EVIL,
        False,
        EVIL,
        NOW,
        HOSTILE,
        MessageTrust.VERIFIED,
        Namespace.V2,
        7,
        nick="[b]nick[/b]",
    )
    service.add_chat(chat, [message, dataclasses.replace(message, archive_id=9_000_002)])
    return service


def test_neutral_removes_escapes_controls_and_bidi() -> None:
    """ANSI sequences vanish, controls and bidi overrides become U+FFFD, markup stays text."""
    shown = neutral(HOSTILE)
    assert "\x1b" not in shown
    assert not set(shown) & set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    assert "[b]bold[/b]" in shown
    assert "red" in shown
    assert neutral("a\nb", single_line=True) == "a b"
    assert neutral("bell\x07") == "bell\ufffd"


async def test_hostile_text_shows_literally_and_clicking_it_does_nothing() -> None:
    """Roster row and chat lines keep the brackets; clicks on them leave the app running."""
    app = make_app(hostile_service())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        roster = app.screen.query_one(RosterList)
        rows = [str(roster.get_option_at_index(i).prompt) for i in range(roster.option_count)]
        evil_row = next(row for row in rows if EVIL in row)
        assert "[@click=app.quit]Eve[/]" in evil_row
        assert "\x1b" not in evil_row
        assert "\u202e" not in evil_row
        app.open_chat(EVIL)
        await settle(pilot)
        assert isinstance(app.screen, ChatScreen)
        log = app.screen.query_one(MessageLog)
        painted = "".join(log.render_line(y).text for y in range(log.size.height))
        assert "[@click=app.quit]click me[/]" in painted
        assert "[b]bold[/b]" in painted
        assert "\x1b" not in painted
        assert "\u202e" not in painted
        for x in range(2, 60, 6):
            await pilot.click(MessageLog, offset=(x, 0))
            await pilot.press("escape")
        await settle(pilot)
        assert app.is_running
        assert app.return_code is None


async def test_hostile_room_subject_nicks_and_readiness_show_as_text() -> None:
    """Subject, nick in the log, occupant list and readiness rows keep the literal brackets."""
    app = make_app(hostile_service())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_chat(HOSTILE_ROOM)
        await settle(pilot)
        assert isinstance(app.screen, GroupChatScreen)
        subject = str(app.screen.query_one("#subject").render())
        assert "[@click=app.quit]click me[/]" in subject
        assert "\x1b" not in subject
        log = app.screen.query_one(MessageLog)
        painted = "".join(log.render_line(y).text for y in range(3))
        assert painted.count("[@click=app.quit]") == 2
        assert "\u202e" not in painted
        await pilot.click("#subject")
        await pilot.click("#occupants")
        await settle(pilot)
        assert app.is_running
