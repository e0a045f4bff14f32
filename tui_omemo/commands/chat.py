"""`tui-omemo send` and `tui-omemo listen`: one message out, or the incoming stream printed.

`send` logs in, encrypts for every trusted device of the contact (and our other devices),
prints the devices that were skipped and why, and returns once the server has the message
(a ping round trip). When the server cannot be reached or does not confirm in time it exits 1
saying the message is queued: it waits, encrypted, in the outbox and the next start of any
command resends it (`service/outbox.py`).
`--omemo 0.3|2` forces a version for this one message; `auto` keeps the chat's choice (OMEMO 2
when the contact publishes it, else 0.3).

`listen` logs in, catches up (messages left in the inbox by a crash, then the server archive)
and prints every archived message as it arrives — readable lines, or one JSON object per line
with `--json` (the same shape as `history --json`). On stderr it says ``listening as JID
(device N)`` once it is caught up. `--echo` answers each decrypted 1:1 message with
``echo: <text>``, encrypted in the same OMEMO version (echoes themselves are not answered).
Bookmarked rooms are rejoined and caught up as the service starts (`commands.muc.groups_of`);
group messages carry `room` and `nick`, and `--echo` answers them in the room.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from tui_omemo.commands.account import check_jid
from tui_omemo.commands.console import CommandError, Console, UsageError
from tui_omemo.commands.muc import echo_in_room, groups_of
from tui_omemo.commands.output import MessageView
from tui_omemo.commands.profile import ProfileOptions
from tui_omemo.commands.runtime import Online, online, server_has_everything
from tui_omemo.model import Namespace
from tui_omemo.service.api import ChatMessage, MessageReceived, SendFailed, SendReport
from tui_omemo.service.muc import GroupChats
from tui_omemo.store import ArchivedMessage, UnitOfWork
from tui_omemo.xmpp.errors import TransportError

T = TypeVar("T")

DEFAULT_SEND_TIMEOUT = 30.0
ECHO_PREFIX = "echo: "
QUEUED = "it is queued and will be sent on next connect"
CONFIRM_MARGIN = 0.5
"""Seconds of `--timeout` kept back for logging out after the confirmation wait."""


@dataclass(frozen=True, slots=True)
class SendArgs:
    """The arguments of `send`."""

    jid: str
    text: str
    omemo: str
    timeout: float


@dataclass(frozen=True, slots=True)
class ListenArgs:
    """The arguments of `listen`."""

    count: int | None
    timeout: float | None
    echo: bool
    json: bool


def parse_version(text: str) -> Namespace | None:
    """`auto` → None, `0.3`/`2` → the namespace.

    Raises:
        UsageError: anything else.
    """
    if text == "auto":
        return None
    try:
        return Namespace.from_label(text)
    except ValueError as error:
        raise UsageError(f"--omemo: {error}") from None


def send(options: ProfileOptions, args: SendArgs, console: Console) -> int:
    """Send one encrypted message; 0 once the server has it.

    Raises:
        UsageError: bad JID, version or timeout.
        CommandError: nothing was sent (the skipped devices are printed first), or timeout.
        StoreError, TransportError: the profile or the server failed.
    """
    peer = check_jid(args.jid)
    version = parse_version(args.omemo)
    if args.timeout <= 0:
        raise UsageError("--timeout must be more than 0 seconds")
    progress = _Progress()
    sending = _send(options, console, progress, peer=peer, text=args.text, version=version,
                    timeout=args.timeout)
    report = asyncio.run(_limited(sending, args.timeout, progress))
    console.out(f"sent to {peer} with {_used(report)}")
    return 0


@dataclass(slots=True)
class _Progress:
    """How far a `send` got: `queued` once the message is archived in the outbox."""

    queued: bool = False


async def _limited(sending: Coroutine[Any, Any, T], limit: float, progress: _Progress) -> T:
    """`sending` within `limit` seconds (a logout that hangs on a silent server counts).

    Raises:
        CommandError: the limit passed; saying the message is queued once it is.
    """
    try:
        async with asyncio.timeout(limit):
            return await sending
    except TimeoutError:
        if progress.queued:
            raise CommandError(_unconfirmed(limit)) from None
        raise CommandError(f"sending timed out after {limit:g} s") from None


def _unconfirmed(timeout: float) -> str:
    return f"the server did not confirm the message within {timeout:g} s; {QUEUED}"


async def _send(
    options: ProfileOptions,
    console: Console,
    progress: _Progress,
    *,
    peer: str,
    text: str,
    version: Namespace | None,
    timeout: float,  # noqa: ASYNC109 (the overall limit, also for the server's confirmation)
) -> SendReport:
    started = asyncio.get_running_loop().time()
    async with online(options, console, rooms=False) as running:
        try:
            report = await send_with_version(running, peer, text, version)
        except SendFailed as failure:
            _print_skipped(failure.report, console)
            raise CommandError(failure.reason) from None
        progress.queued = True
        _print_skipped(report, console)
        if report.queued:
            raise CommandError(f"not connected to the server; {QUEUED}")
        left = timeout - (asyncio.get_running_loop().time() - started) - CONFIRM_MARGIN
        try:
            await running.service.confirm_sent(max(left, CONFIRM_MARGIN))
        except TransportError:
            raise CommandError(_unconfirmed(timeout)) from None
        return report


async def send_with_version(
    running: Online, peer: str, text: str, version: Namespace | None
) -> SendReport:
    """Send `text`, in `version` for this message only when one is given.

    Raises:
        SendFailed: nothing was sent.
    """
    if version is None:
        return await running.service.send(peer, text)
    before = (await running.service.session.prefs(peer)).version
    await running.service.set_chat_version(peer, version)
    try:
        return await running.service.send(peer, text)
    finally:
        await running.service.set_chat_version(peer, before)


def _used(report: SendReport) -> str:
    """How a message went: plaintext, `OMEMO 2`, or `OMEMO 2 and 0.3` (one stanza carrying
    both versions, for devices that publish only one of them)."""
    if report.omemo is None:
        return "plaintext"
    versions = report.versions or (report.omemo,)
    return "OMEMO " + " and ".join(namespace.label for namespace in versions)


def _print_skipped(report: SendReport, console: Console) -> None:
    for device in report.skipped:
        which = "" if device.device_id is None else f" device {device.device_id}"
        console.out(f"skipped {device.bare_jid}{which}: {device.reason}")


def listen(options: ProfileOptions, args: ListenArgs, console: Console) -> int:
    """Print incoming messages until `count` arrived or `timeout` passed (or forever).

    Returns:
        0, or 1 when `--timeout` ended before `--count` messages arrived.

    Raises:
        UsageError: a count below 1 or a timeout not above 0.
        StoreError, TransportError: the profile or the server failed.
    """
    if args.count is not None and args.count < 1:
        raise UsageError("--count must be at least 1")
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError("--timeout must be more than 0 seconds")
    printed = asyncio.run(_until_terminated(_listen(options, args, console)))
    if printed is None:
        console.err("tui-omemo: stopped")
        return 0
    if args.count is not None and printed < args.count:
        console.err(
            f"tui-omemo: timed out after {args.timeout:g} s with {printed} of {args.count} messages"
        )
        return 1
    return 0


async def _until_terminated(coroutine: Coroutine[Any, Any, T]) -> T | None:
    """Run `coroutine`; SIGTERM cancels it (so the service, the connection and the database
    are closed properly) and gives None."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(coroutine)
    terminated = False

    def terminate() -> None:
        nonlocal terminated
        terminated = True
        task.cancel()

    loop.add_signal_handler(signal.SIGTERM, terminate)
    try:
        return await task
    except asyncio.CancelledError:
        if terminated:
            return None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


async def _listen(options: ProfileOptions, args: ListenArgs, console: Console) -> int:
    async with online(options, console) as running:
        console.err(
            f"tui-omemo: listening as {running.account.jid} (device {running.service.device_id})"
        )
        printed = await _print_events(running, groups_of(running), args, console)
        await server_has_everything(running.client, 10)
        await running.service.confirm_sent(10)  # the echoes leave the outbox
    return printed


async def _print_events(
    running: Online, groups: GroupChats | None, args: ListenArgs, console: Console
) -> int:
    """Print archived messages until `count` of them or `timeout`; how many were printed."""
    printed = 0
    loop = asyncio.get_running_loop()
    deadline = None if args.timeout is None else loop.time() + args.timeout
    events = running.service.events()
    while args.count is None or printed < args.count:
        remaining = None if deadline is None else deadline - loop.time()
        if remaining is not None and remaining <= 0:
            break
        try:
            event = await asyncio.wait_for(anext(events), remaining)
        except TimeoutError:
            break
        if isinstance(event, MessageReceived) and await _show(
            running, groups, event.message, args, console
        ):
            printed += 1
    return printed


async def _show(
    running: Online,
    groups: GroupChats | None,
    message: ChatMessage,
    args: ListenArgs,
    console: Console,
) -> bool:
    """Print one archived message (and echo it); False for one that is not shown."""
    if message.failure is not None:
        console.err(
            f"tui-omemo: a message from {message.sender} could not be decrypted: {message.failure}"
        )
        return False
    row = await running.service.runner.read(_row(message.archive_id))
    view = MessageView.from_archive(row) if row is not None else _view(message)
    console.out(view.to_json() if args.json else view.to_line())
    if args.echo and message.nick is not None and groups is not None:
        await echo_in_room(groups, message, console)
    elif args.echo and _echoable(message):
        await _echo(running, message, console)
    return True


def _row(archive_id: int) -> Callable[[UnitOfWork], ArchivedMessage | None]:
    def read(uow: UnitOfWork) -> ArchivedMessage | None:
        return uow.archive.get(archive_id)

    return read


def _view(message: ChatMessage) -> MessageView:
    return MessageView(
        peer=message.peer,
        outgoing=message.outgoing,
        sender=message.sender,
        device=message.sender_device_id,
        text=message.body,
        trust=message.trust.value,
        omemo=None if message.omemo is None else message.omemo.label,
        stanza_id=None,
        time_ms=int(message.time.timestamp() * 1000),
        archive_id=message.archive_id,
        room=None if message.nick is None else message.peer,
        nick=message.nick,
    )


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
    try:
        await send_with_version(running, message.peer, ECHO_PREFIX + message.body, message.omemo)
    except SendFailed as failure:
        console.err(f"tui-omemo: echo to {message.peer} not sent: {failure.reason}")
