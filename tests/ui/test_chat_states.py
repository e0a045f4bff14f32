"""Chat states in the app (XEP-0085, issue 17): opening a chat says active, keystrokes in a
message say composing (the service rate-limits; commands are not typing), a sent message says
active and leaving says inactive; the contact's "typing…" shows under the title and goes when
it stops or writes; in a room "NICK is typing…", the nick as text, never markup."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from tests.fakes_ui import BOB, ROOM, FakeService
from tests.ui.helpers import SIZE, make_app, settle
from tui_omemo.service.api import ChatStateChanged
from tui_omemo.ui.widgets import typing_line
from tui_omemo.ui.widgets.typing_line import TypingLine


def _typing(app: object) -> tuple[bool, str]:
    line = app.screen.query_one("#typing", TypingLine)  # type: ignore[attr-defined]
    return line.display and not line.has_class("-hidden"), line.describe()


async def test_our_states_follow_the_composer_and_theirs_show_under_the_title(
    service: FakeService,
) -> None:
    """active on open; one composing per keystroke of a message, none for a command; active
    after the send; inactive on leaving. Bob's composing shows "typing…", his paused "stopped
    typing", his message clears the line."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_chat(BOB)
        await settle(pilot)
        assert service.chat_states == [(BOB, "active")]
        assert _typing(app) == (False, "")
        await pilot.press(*"/he")
        await settle(pilot)
        assert service.chat_states == [(BOB, "active")]
        await pilot.press("ctrl+a", *"hi")  # ctrl+a: to the line start; "hi/he" is typing
        await pilot.press("enter")
        await settle(pilot)
        assert service.chat_states[1:] == [(BOB, "composing")] * 2 + [(BOB, "active")]

        service.emit(ChatStateChanged(BOB, "composing"))
        await settle(pilot)
        assert _typing(app) == (True, "typing…")
        service.emit(ChatStateChanged(BOB, "paused"))
        await settle(pilot)
        assert _typing(app) == (True, "stopped typing")
        service.receive(BOB, "here I am")
        await settle(pilot)
        assert _typing(app) == (False, "")

        await pilot.press("escape")
        await settle(pilot)
        assert service.chat_states[-1] == (BOB, "inactive")


async def test_a_typing_state_not_renewed_is_forgotten(
    service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A contact whose client went away mid-word does not stay "typing…": without a new
    state the line clears by itself."""
    monkeypatch.setattr(typing_line, "FORGET_AFTER_S", 2.0)  # seen first, even under load
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_chat(BOB)
        await settle(pilot)
        service.emit(ChatStateChanged(BOB, "composing"))
        await settle(pilot)
        assert _typing(app) == (True, "typing…")
        for _ in range(100):  # up to 10 s: the timer fires after 2 s
            if _typing(app) == (False, ""):
                break
            await pilot.pause(0.1)
        assert _typing(app) == (False, "")


async def test_in_a_room_the_typing_nick_shows_as_text(service: FakeService) -> None:
    """A room occupant typing: "NICK is typing…", markup in the nick shown as typed; another
    chat's state changes nothing here."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_chat(ROOM)
        await settle(pilot)
        service.emit(ChatStateChanged(ROOM, "composing", "[b]zoe[/b]"))
        service.emit(ChatStateChanged(BOB, "composing"))
        await settle(pilot)
        assert _typing(app) == (True, "[b]zoe[/b] is typing…")
        shown = app.screen.query_one("#typing", Static).render()
        assert "[b]zoe[/b] is typing…" in str(shown)
        service.emit(ChatStateChanged(ROOM, "active", "[b]zoe[/b]"))
        await settle(pilot)
        assert _typing(app) == (False, "")
