"""Being told of a new message in a chat you are not looking at (issue 17): a desktop
notification where one is available, and the unread count in the terminal's window title.

The app already rings the bell and shows a toast; `Alerts` adds what reaches you when the
terminal is not in front. The channel is chosen once from the environment by the composition
root (`Desktop.from_environment`): `notify-send` (D-Bus notifications) when it is installed and a
graphical session is there, else the terminal's own notification escape (OSC 777 for foot, rxvt
and Ghostty; OSC 9 for iTerm2, WezTerm, kitty and Windows Terminal), else none. A notification
says "New message from NAME"; the text only when the `notify_message_text` setting is on.

Peer text is data: NAME and the text lose every control character (ESC or BEL would end the
escape sequence and let a peer write to the terminal), are cut short, and notify-send gets the
text with `<`, `>` and `&` escaped (its body may be read as markup). Notifications of one chat
come at most every `QUIET_SECONDS` (a catch-up of many messages is one notification), and
nothing is written when no channel is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import shutil
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Protocol

from tui_omemo.service.api import (
    ChatMessage,
    ChatService,
    ChatSummary,
    MessageReceived,
    RosterChanged,
    ServiceEvent,
)

QUIET_SECONDS = 10.0
NAME_LIMIT = 64
TEXT_LIMIT = 200
WINDOW_TITLE = "tui-omemo"


class Channel(enum.Enum):
    """How a desktop notification gets out."""

    NOTIFY_SEND = "notify-send"
    OSC_777 = "osc-777"
    OSC_9 = "osc-9"
    NONE = "none"


def choose_channel(
    environ: Mapping[str, str], which: Callable[[str], str | None] = shutil.which
) -> Channel:
    """The channel this environment offers (see the module docstring)."""
    graphical = any(environ.get(name) for name in ("WAYLAND_DISPLAY", "DISPLAY"))
    if graphical and environ.get("DBUS_SESSION_BUS_ADDRESS") and which("notify-send"):
        return Channel.NOTIFY_SEND
    term, program = environ.get("TERM", ""), environ.get("TERM_PROGRAM", "")
    if term.startswith(("foot", "rxvt")) or program == "ghostty":
        return Channel.OSC_777
    if program in {"iTerm.app", "WezTerm"} or term == "xterm-kitty" or environ.get("WT_SESSION"):
        return Channel.OSC_9
    return Channel.NONE


def plain(text: str, limit: int) -> str:
    """`text` on one line without control characters, at most `limit` characters."""
    flat = "".join(c if c.isprintable() else " " for c in text)
    flat = " ".join(flat.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


async def run_quietly(argv: Sequence[str]) -> None:
    """Run a notification command without a shell, its output discarded; never raises."""
    with contextlib.suppress(OSError):
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await process.wait()


@dataclass
class Desktop:
    """One desktop notification channel and how to use it.

    Attributes:
        channel: where notifications go.
        run: runs a command (notify-send), given as an argument list.
        clock: seconds, for the per-chat quiet time.
    """

    channel: Channel
    run: Callable[[Sequence[str]], Awaitable[None]] = run_quietly
    clock: Callable[[], float] = time.monotonic
    _last: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Desktop:
        """The channel the environment offers."""
        return cls(choose_channel(os.environ if environ is None else environ))

    def due(self, chat: str) -> bool:
        """Whether a notification for `chat` may go now (and note that one does)."""
        now = self.clock()
        last = self._last.get(chat)
        if last is not None and now - last < QUIET_SECONDS:
            return False
        self._last[chat] = now
        return True

    def escape_sequence(self, title: str, body: str) -> str:
        """The terminal's notification sequence for this channel ("" for the others)."""
        if self.channel is Channel.OSC_777:
            return f"\x1b]777;notify;{title};{body}\x07"
        if self.channel is Channel.OSC_9:
            return f"\x1b]9;{title}: {body}\x07" if body else f"\x1b]9;{title}\x07"
        return ""

    def command(self, title: str, body: str) -> list[str] | None:
        """The notify-send command line, or None for the other channels."""
        if self.channel is not Channel.NOTIFY_SEND:
            return None
        argv = ["notify-send", "--app-name=tui-omemo", "--", title]
        return [*argv, escape(body, quote=False)] if body else argv


class Host(Protocol):
    """What `Alerts` needs of the app: its service, and whether it has a terminal."""

    @property
    def service(self) -> ChatService: ...

    @property
    def is_headless(self) -> bool: ...


class Alerts:
    """Desktop notifications and the window title of one app.

    Args:
        desktop: the notification channel (None: no desktop notifications, as in tests).
        app: the app (its service's settings say whether a notification shows text; escape
            sequences go to its terminal as its `bell` does, never when headless).
        write: where escape sequences go instead (tests).
    """

    def __init__(
        self, desktop: Desktop | None, app: Host, write: Callable[[str], None] | None = None
    ) -> None:
        self._desktop = desktop
        self._app = app
        self._write = write or self._to_terminal
        self._unread: dict[str, int] = {}
        self._title = ""
        self._tasks: set[asyncio.Task[None]] = set()

    def _to_terminal(self, data: str) -> None:
        driver = None if self._app.is_headless else getattr(self._app, "_driver", None)
        if driver is not None:  # Textual's own `App.bell` writes its BEL the same way
            driver.write(data)

    def seen(self, event: ServiceEvent, screen: object) -> None:
        """An event reached the app with `screen` on top: a message from someone else in a
        chat not on screen notifies, a roster change updates the title."""
        if isinstance(event, MessageReceived) and not event.message.outgoing:
            if getattr(screen, "peer", None) != event.message.peer and not event.message.corrects:
                self.message(event.message, event.message.nick or event.message.sender)
        elif isinstance(event, RosterChanged):
            self.roster_changed(event.chat)

    def message(self, message: ChatMessage, who: str) -> None:
        """A message arrived in a chat not on screen: notify, unless the chat's last
        notification is too recent or there is no channel."""
        desktop = self._desktop
        if desktop is None or desktop.channel is Channel.NONE or not desktop.due(message.peer):
            return
        task = asyncio.create_task(self._notify(desktop, who, message.body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _notify(self, desktop: Desktop, who: str, body: str) -> None:
        with_text = (await self._app.service.settings()).notify_message_text
        title = f"New message from {plain(who, NAME_LIMIT)}"
        text = plain(body, TEXT_LIMIT) if with_text else ""
        if (sequence := desktop.escape_sequence(title.replace(";", ","), text)) != "":
            self._write(sequence)
        if (argv := desktop.command(title, text)) is not None:
            await desktop.run(argv)

    def roster_changed(self, chat: ChatSummary) -> None:
        """Keep the unread total; the window title shows it (`tui-omemo (3)`)."""
        self._unread[chat.jid] = chat.unread
        total = sum(self._unread.values())
        title = f"{WINDOW_TITLE} ({total})" if total else WINDOW_TITLE
        if title != self._title:
            self._title = title
            self._write(f"\x1b]2;{title}\x07")
