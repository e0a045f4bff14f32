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
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from tui_omemo.commands.console import CommandError, Console, UsageError
from tui_omemo.commands.jids import check_jid
from tui_omemo.commands.profile import ProfileOptions
from tui_omemo.commands.runtime import Online, online
from tui_omemo.model import Namespace
from tui_omemo.service.api import SendFailed, SendReport
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
