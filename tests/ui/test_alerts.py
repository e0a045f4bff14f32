"""Notifications of new messages (issue 17): the desktop channel the environment offers, a
notification that says only who wrote unless the user asked for the text, peer text that cannot
escape into the terminal, one notification per chat per quiet time, none for the chat on
screen, and the unread total in the window title."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import SimpleNamespace

import pytest

from tests.fakes_ui import BOB, CAROL, FakeService
from tests.ui.helpers import SIZE, make_app, settle
from tui_omemo.service.api import ChatSecurity, ChatSummary, Presence, Progress
from tui_omemo.ui.alerts import QUIET_SECONDS, Alerts, Channel, Desktop, choose_channel

HOSTILE = "Eve\x1b]2;pwned\x07\n<b>x</b>"


def _which(name: str) -> str | None:
    return f"/usr/bin/{name}"


@pytest.mark.parametrize(
    ("environ", "which", "channel"),
    [
        ({"DISPLAY": ":0", "DBUS_SESSION_BUS_ADDRESS": "unix:x"}, _which, Channel.NOTIFY_SEND),
        ({"DISPLAY": ":0", "DBUS_SESSION_BUS_ADDRESS": "unix:x"}, lambda _: None, Channel.NONE),
        ({"TERM": "foot"}, _which, Channel.OSC_777),
        ({"TERM": "xterm-kitty"}, _which, Channel.OSC_9),
        ({"TERM": "xterm-256color"}, _which, Channel.NONE),
    ],
)
def test_the_channel_is_what_the_environment_offers(
    environ: dict[str, str], which: object, channel: Channel
) -> None:
    """notify-send only in a graphical session with D-Bus; else the terminal's own escape."""
    assert choose_channel(environ, which) is channel  # type: ignore[arg-type]


class Recorder:
    """The commands and terminal writes the alerts made, and a clock the test moves."""

    def __init__(self) -> None:
        self.commands: list[list[str]] = []
        self.written: list[str] = []
        self.now = 1000.0

    async def run(self, argv: Sequence[str]) -> None:
        self.commands.append(list(argv))


async def test_notifications_say_who_wrote_and_the_text_only_when_asked(
    service: FakeService,
) -> None:
    """Bob's chat is open: Carol's message notifies "New message from carol…" without its
    text; her next one within the quiet time does not; Bob's (on screen) never does; with
    notify_message_text on, the text comes too, escaped for notify-send."""
    recorder = Recorder()
    desktop = Desktop(Channel.NOTIFY_SEND, recorder.run, lambda: recorder.now)
    app = make_app(service, desktop=desktop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_chat(BOB)
        await settle(pilot)
        service.receive(CAROL, "the secret plan")
        service.receive(CAROL, "and more")
        service.receive(BOB, "on screen")
        await settle(pilot)
        assert recorder.commands == [
            ["notify-send", "--app-name=tui-omemo", "--", f"New message from {CAROL}"]
        ]
        await service.update_setting("notify_message_text", "on")
        recorder.now += QUIET_SECONDS
        service.receive(CAROL, "<i>tea</i> & cake")
        await settle(pilot)
        assert recorder.commands[-1][-1] == "&lt;i&gt;tea&lt;/i&gt; &amp; cake"


async def test_peer_text_cannot_escape_the_notification_sequence() -> None:
    """A name full of escapes gives one OSC sequence: ESC only at its start, BEL only at its
    end, no line break."""
    written: list[str] = []
    host = SimpleNamespace(service=FakeService(), is_headless=False)
    alerts = Alerts(Desktop(Channel.OSC_777), host, written.append)
    alerts.message(FakeService().next_message(CAROL, HOSTILE), HOSTILE)
    for _ in range(3):
        await asyncio.sleep(0)
    (sequence,) = written
    assert sequence.startswith("\x1b]777;notify;New message from Eve")
    assert sequence.count("\x1b") == 1
    assert sequence.count("\x07") == 1
    assert sequence.endswith("\x07")
    assert "\n" not in sequence


def test_the_window_title_shows_the_unread_total() -> None:
    """Unread rows add up in the title; read again, the count goes (written only on change)."""
    written: list[str] = []
    alerts = Alerts(None, SimpleNamespace(service=FakeService(), is_headless=False), written.append)

    def row(jid: str, unread: int) -> ChatSummary:
        return ChatSummary(jid, jid, False, Presence.ONLINE, unread, ChatSecurity.NO_OMEMO, None)

    alerts.roster_changed(row(BOB, 2))
    alerts.roster_changed(row(CAROL, 1))
    alerts.roster_changed(row(CAROL, 1))
    alerts.roster_changed(row(BOB, 0))
    alerts.roster_changed(row(CAROL, 0))
    assert written == [
        "\x1b]2;tui-omemo (2)\x07",
        "\x1b]2;tui-omemo (3)\x07",
        "\x1b]2;tui-omemo (1)\x07",
        "\x1b]2;tui-omemo\x07",
    ]


async def test_a_catch_up_says_how_many_it_fetched_and_nothing_when_empty(
    service: FakeService,
) -> None:
    """Every start used to toast "catch-up: started" although an empty catch-up was already
    over; now an empty one is silent and one that fetched messages says how many."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        service.emit(Progress("catch-up", 0, 0))
        await settle(pilot)
        assert [n.message for n in app._notifications] == []
        service.emit(Progress("catch-up", 100, 200))
        service.emit(Progress("catch-up", 120, 120))
        await settle(pilot)
        assert [n.message for n in app._notifications] == ["catch-up: 120 fetched"]
