"""`tui-omemo listen`: print every message once — first what arrived since the last run, then
live ones.

`listen` logs in and catches up (messages left in the inbox by a crash, then the server
archive); on stderr it says ``listening as JID (device N)``, and every outage and recovery of
the connection (``connection lost, reconnecting``, then ``connected`` or ``reconnected, nothing
missed``: the client reconnects by itself). Then it prints from the
*archive*, not from the service's events: every row after its cursor (`service.listen_cursor`),
in archive order, and then each new row as the service archives it (an event only wakes it up).
So a message that another command (`send`, `devices`, `muc …`) caught up and archived
silently is printed by the next `listen`, and `listen --count 1` twice prints two waiting
messages one after the other. The cursor moves only after a line was written and flushed: a
run killed before that prints the message again next time, a run whose reader went away
(`listen | head -n1`) leaves the rest for the next run.

Readable lines, or one JSON object per line with `--json` (the shape of `history --json`); a
message that could not be decrypted is one line on stderr and, with `--json`, also a `"type":
"error"` object with the reason in the stream. `--since ID` starts after archive id ID instead
of the cursor; `--from JID` prints only one chat (with its own cursor); `--name NAME` keeps a
separate cursor for each of several consumers of one profile. `--echo` answers each decrypted
1:1 message with ``echo: <text>`` in the same OMEMO version and group messages in their room
(echoes themselves are not answered); a file, in a chat or a room, is answered with its name,
size and SHA-256 once downloaded. SIGTERM and SIGHUP end it cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tui_omemo.commands import frontends
from tui_omemo.commands.chat import ECHO_PREFIX, send_with_version
from tui_omemo.commands.console import Console, OutputClosed, UsageError
from tui_omemo.commands.files import file_digest  # issue 18: a file is echoed as its SHA-256
from tui_omemo.commands.jids import check_jid
from tui_omemo.commands.muc import echo_in_room, groups_of
from tui_omemo.commands.output import MessageView, failure_json
from tui_omemo.commands.profile import ProfileOptions
from tui_omemo.commands.runtime import Online, online, server_has_everything
from tui_omemo.service import listen_cursor as cursor
from tui_omemo.service.api import ChatMessage, ChatStateChanged, ConnectionChanged, SendFailed
from tui_omemo.service.crashpoints import crash_point
from tui_omemo.service.muc import GroupChats
from tui_omemo.service.offline import ArchivedMessage
from tui_omemo.service.session import to_chat_message

T = TypeVar("T")

BEFORE_PRINT = "listen_before_print"
"""Crash point (`TUI_OMEMO_CRASH_AT`): a message was read from the archive, not yet printed."""
POLL_SECONDS = 2.0
"""Look at the archive this often even without an event (a safety net, not the main path)."""
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True, slots=True)
class ListenArgs:
    """The arguments of `listen`."""

    count: int | None
    timeout: float | None
    echo: bool
    json: bool
    since: int | None = None
    source: str | None = None
    name: str | None = None


def listen(options: ProfileOptions, args: ListenArgs, console: Console) -> int:
    """Print messages until `count` were printed or `timeout` passed (or forever).

    Returns:
        0, or 1 when `--timeout` ended before `--count` messages arrived.

    Raises:
        UsageError: a count below 1, a timeout not above 0, a negative `--since`, a bad JID.
        StoreError, TransportError: the profile or the server failed.
    """
    _check(args)
    args = ListenArgs(
        args.count,
        args.timeout,
        args.echo,
        args.json,
        args.since,
        None if args.source is None else check_jid(args.source),
        args.name,
    )
    stream = asyncio.run(_until_terminated(_listen(options, args, console)))
    if stream is None:
        console.err("tui-omemo: stopped")
        return 0
    printed = stream.printed
    if args.count is not None and printed < args.count and not stream.closed:
        console.err(
            f"tui-omemo: timed out after {args.timeout:g} s with {printed} of {args.count} messages"
        )
        return 1
    return 0


def _check(args: ListenArgs) -> None:
    if args.count is not None and args.count < 1:
        raise UsageError("--count must be at least 1")
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError("--timeout must be more than 0 seconds")
    if args.since is not None and args.since < 0:
        raise UsageError("--since must be an archive id (0 or more)")
    if args.name is not None and not args.name.strip():
        raise UsageError("--name must not be empty")


async def _until_terminated(coroutine: Coroutine[Any, Any, T]) -> T | None:
    """Run `coroutine`; SIGTERM or SIGHUP cancels it (so the service, the connection and the
    database are closed properly) and gives None."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(coroutine)
    terminated = False

    def terminate() -> None:
        nonlocal terminated
        terminated = True
        task.cancel()

    for number in STOP_SIGNALS:
        loop.add_signal_handler(number, terminate)
    try:
        return await task
    except asyncio.CancelledError:
        if terminated:
            return None
        raise
    finally:
        for number in STOP_SIGNALS:
            loop.remove_signal_handler(number)


async def _listen(options: ProfileOptions, args: ListenArgs, console: Console) -> _Stream:
    async with online(options, console) as running, frontends.serving(running):
        console.err(
            f"tui-omemo: listening as {running.account.jid} (device {running.service.device_id})"
        )
        stream = await _Stream.open(running, args, console)
        wake = asyncio.Event()
        watcher = asyncio.create_task(_watch(running, wake, console))
        try:
            await stream.run(wake)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await server_has_everything(running.client, 10)
        await running.service.confirm_sent(10)  # the echoes leave the outbox
    return stream


async def _watch(running: Online, wake: asyncio.Event, console: Console) -> None:
    """Every service event (a message archived, a failure recorded …) wakes the printer; an
    outage of the connection and the recovery are said on stderr."""
    async for event in running.service.events():
        if isinstance(event, ChatStateChanged):
            continue  # typing is never stored: nothing new to print
        if isinstance(event, ConnectionChanged):
            console.err(f"tui-omemo: {event.detail}")
        wake.set()


@dataclass(slots=True)
class _Stream:
    """One run's printing: where it stands in the archive and how much it printed."""

    running: Online
    args: ListenArgs
    console: Console
    groups: GroupChats | None
    reader: cursor.Reader
    name: str
    position: int
    saved: int
    printed: int = 0
    closed: bool = field(default=False)

    @classmethod
    async def open(cls, running: Online, args: ListenArgs, console: Console) -> _Stream:
        """Start after `--since`, else after the cursor."""
        name = cursor.name_for(args.name, args.source)
        saved = await cursor.position(running.service, name)
        start = saved if args.since is None else args.since
        reader = cursor.Reader(args.source, running.service.device_id)
        return cls(running, args, console, groups_of(running), reader, name, start, saved)

    @property
    def done(self) -> bool:
        return self.closed or (self.args.count is not None and self.printed >= self.args.count)

    async def run(self, wake: asyncio.Event) -> None:
        """Print until done or `--timeout`: the archive's backlog first, then new rows."""
        loop = asyncio.get_running_loop()
        deadline = None if self.args.timeout is None else loop.time() + self.args.timeout
        while not self.done:
            wake.clear()
            rows = await self.reader.pending(self.running.service, self.position)
            if rows:
                await self._print_rows(rows)
                continue
            remaining = POLL_SECONDS if deadline is None else deadline - loop.time()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), min(remaining, POLL_SECONDS))

    async def _print_rows(self, rows: list[ArchivedMessage]) -> None:
        for row in rows:
            if self.done:
                break
            if not self.reader.is_own(row):
                crash_point(BEFORE_PRINT)
                try:
                    shown = self._write(row)
                except OutputClosed:
                    self.closed = True
                    break
                self.printed += shown
                self.position = row.id
                await self._save()
                if shown and self.args.echo:
                    await self._echo(to_chat_message(row))
            self.position = row.id
        await self._save()

    def _write(self, row: ArchivedMessage) -> int:
        """Print one row; 1 for a message, 0 for a decryption failure (not counted).

        Raises:
            OutputClosed: stdout is gone; nothing counts as printed.
        """
        failure = row.flags.get("failure")
        if isinstance(failure, str):
            if self.args.json:
                self.console.out(failure_json(row, failure))
            self.console.err(
                f"tui-omemo: a message from {row.sender_bare_jid} could not be decrypted: {failure}"
            )
            return 0
        view = MessageView.from_archive(row, as_sent=True)  # its corrections follow it
        self.console.out(view.to_json() if self.args.json else view.to_line())
        return 1

    async def _save(self) -> None:
        """Move the cursor to what was handled (after the write: see the module docstring)."""
        if self.position == self.saved:
            return
        position, name = self.position, self.name
        await cursor.advance(self.running.service, name, position)
        self.saved = position

    async def _echo(self, message: ChatMessage) -> None:
        if message.nick is not None and self.groups is not None:
            text = message.body
            if message.file is not None and not message.outgoing and message.omemo is not None:
                text = await file_digest(self.running, message)  # a file: its digest, no key
            await echo_in_room(self.groups, message, self.console, text)
        elif _echoable(message):
            await _echo(self.running, message, self.console)


def _echoable(message: ChatMessage) -> bool:
    """A decrypted 1:1 message from someone else, and not itself an echo (two echoing
    listeners would otherwise answer each other forever)."""
    return (
        not message.outgoing
        and message.omemo is not None
        and message.nick is None
        and not message.body.startswith(ECHO_PREFIX)
    )


async def _echo(running: Online, message: ChatMessage, console: Console) -> None:
    """Answer `echo: <text>` in the message's OMEMO version; a failure is reported, not fatal."""
    text = message.body if message.file is None else await file_digest(running, message)
    try:
        await send_with_version(running, message.peer, ECHO_PREFIX + text, message.omemo)
    except SendFailed as failure:
        console.err(f"tui-omemo: echo to {message.peer} not sent: {failure.reason}")
