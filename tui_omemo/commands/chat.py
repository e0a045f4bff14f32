"""`tui-omemo send`: encrypted messages out, to contacts and joined rooms.

`send` logs in, encrypts for every trusted device of each recipient (and our other devices),
says on stderr which devices were skipped and why, and returns once the server has the
messages (a ping round trip). Recipients and text come from the arguments, stdin or
`-m FILE` (`commands.send_input`). A recipient that is a room we joined (or every recipient,
with `--room`) gets the message in the room. `--allow-plaintext` is the explicit choice the
"publishes no OMEMO device" error asks for: it is remembered for the contact, and a contact
without OMEMO then gets the message unencrypted (one with OMEMO still gets it encrypted).
`-q` prints nothing on success; stdout closing after delivery never makes it fail.

When the server cannot be reached the status says so (`exits.UNREACHABLE`); once a message
is encrypted and in the outbox but not confirmed, the status is `exits.QUEUED`: the next
start of any command resends it (`service/outbox.py`), so a script must not send it again.
`--omemo 0.3|2` forces a version for this one message; `auto` keeps the chat's choice (OMEMO 2
when the contact publishes it, else 0.3).
`--reply-to ID` answers the message whose archive id is ID (the `id` of `history --json` and
`listen --json`: what a script sees) with a XEP-0461 reply; a message that is not in that chat
(or has no id to name) is refused in one line, status `exits.FAILURE`, and nothing is sent.
`--partial` is `muc send --partial` for every room recipient: a room message, reply or
correction goes to everyone with keys, skipping (and listing) members without a usable device,
and the room remembers the choice; without it such a member stops the send (`exits.NO_DEVICE`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from tui_omemo.commands import exits, frontends, schema
from tui_omemo.commands.console import CommandError, Console, UsageError
from tui_omemo.commands.muc import groups_of
from tui_omemo.commands.profile import ProfileOptions, open_database
from tui_omemo.commands.runtime import Online, online
from tui_omemo.commands.send_input import Outgoing, resolve
from tui_omemo.model import Namespace
from tui_omemo.service.api import SendFailed, SendReport
from tui_omemo.service.facade_editing import NOTHING_TO_ANSWER, NOTHING_TO_CORRECT
from tui_omemo.service.offline import joined_rooms
from tui_omemo.service.profiles import Database
from tui_omemo.xmpp.errors import TransportError

T = TypeVar("T")

ECHO_PREFIX = "echo: "
QUEUED = "it is queued and will be sent on next connect"
CONFIRM_MARGIN = 0.5
"""Seconds of `--timeout` kept back for logging out after the confirmation wait."""


@dataclass(frozen=True, slots=True)
class SendArgs:
    """The arguments of `send` (`targets`: the positionals, recipients and maybe the text)."""

    targets: tuple[str, ...]
    omemo: str
    timeout: float
    message_file: str | None = None
    room: bool = False
    allow_plaintext: bool = False
    quiet: bool = False
    json: bool = False
    correct_last: bool = False
    reply_to: int | None = None
    """`--reply-to`: the archive id of the message answered."""
    partial: bool = False
    """`--partial`: in a room, everyone with keys (the choice `muc send --partial` makes)."""


@dataclass(frozen=True, slots=True)
class _Sent:
    """One recipient's outcome: the report, or why nothing (confirmed) reached it."""

    jid: str
    report: SendReport | None
    error: CommandError | None = None
    room: bool = False


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
    """Send one message to each recipient; 0 once the server has them all.

    Returns:
        0, or with several recipients the status of the first that failed (each failure
        is one line on stderr).

    Raises:
        UsageError: bad JID, version, timeout, text or file.
        CommandError: one recipient, nothing sent or not confirmed (with its status).
        StoreError, TransportError: the profile or the server failed.
    """
    version = parse_version(args.omemo)
    if args.timeout <= 0:
        raise UsageError("--timeout must be more than 0 seconds")
    outgoing = resolve(args.targets, args.message_file, console)
    _check_reply(args, outgoing)
    progress = _Progress()
    sending = _send(options, console, progress, outgoing, args, version)
    outcomes = frontends.run(_limited(sending, args.timeout, progress))
    return _finish(outcomes, args, console)


def _check_reply(args: SendArgs, outgoing: Outgoing) -> None:
    """`--reply-to` answers one message of one chat, and is not a correction.

    Raises:
        UsageError: combined with --correct-last, or several recipients.
    """
    if args.reply_to is None:
        return
    if args.correct_last:
        raise UsageError("--reply-to and --correct-last cannot be combined")
    if len(outgoing.recipients) != 1:
        raise UsageError("--reply-to answers a message of one chat: name one recipient")


def _finish(outcomes: list[_Sent], args: SendArgs, console: Console) -> int:
    """Say what happened (after delivery: a closed stdout cannot undo it)."""
    failed = [outcome for outcome in outcomes if outcome.error is not None]
    if len(outcomes) == 1 and failed and failed[0].error is not None:
        raise failed[0].error
    for outcome in failed:
        console.err(f"tui-omemo: {outcome.jid}: {outcome.error}")
    if not args.quiet:
        for outcome in outcomes:
            if outcome.report is None or outcome.error is not None:
                continue
            if args.json:
                console.out(sent_json(outcome.jid, outcome.report, room=outcome.room))
            else:
                console.out(f"sent to {outcome.jid} with {_used(outcome.report)}")
    first = failed[0].error if failed else None
    return exits.OK if first is None else first.exit_code


@dataclass(slots=True)
class _Progress:
    """How far a `send` got: `queued` once a message is archived in the outbox."""

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
            raise CommandError(_unconfirmed(limit), exits.QUEUED) from None
        raise CommandError(f"sending timed out after {limit:g} s", exits.UNREACHABLE) from None


def _unconfirmed(timeout: float) -> str:
    return f"the server did not confirm the message within {timeout:g} s; {QUEUED}"


async def _send(  # noqa: PLR0917 (one send's whole context)
    options: ProfileOptions,
    console: Console,
    progress: _Progress,
    outgoing: Outgoing,
    args: SendArgs,
    version: Namespace | None,
) -> list[_Sent]:
    started = asyncio.get_running_loop().time()
    database, rooms = await asyncio.to_thread(_open, options, console, outgoing, args.room)
    async with online(options, console, rooms=bool(rooms), database=database) as running:
        outcomes = []
        for jid in outgoing.recipients:
            outcome = await _one(running, jid, jid in rooms, outgoing.text, version, args,
                                 console)  # fmt: skip
            outcome = replace(outcome, room=jid in rooms)
            progress.queued = progress.queued or outcome.report is not None
            outcomes.append(outcome)
        if not any(outcome.error is None for outcome in outcomes):
            return outcomes
        left = args.timeout - (asyncio.get_running_loop().time() - started) - CONFIRM_MARGIN
        try:
            await running.service.confirm_sent(max(left, CONFIRM_MARGIN))
        except TransportError:
            unconfirmed = CommandError(_unconfirmed(args.timeout), exits.QUEUED)
            return [o if o.error else replace(o, error=unconfirmed) for o in outcomes]
        return outcomes


def _open(
    options: ProfileOptions, console: Console, outgoing: Outgoing, all_rooms: bool
) -> tuple[Database, frozenset[str]]:
    """The profile, and which recipients are rooms (`--room`, or a room this profile has
    been in: only then does the service rejoin the bookmarked rooms)."""
    database = open_database(options, console)
    if all_rooms:
        return database, frozenset(outgoing.recipients)
    try:
        rooms = joined_rooms(database, outgoing.recipients)
    except BaseException:
        database.close()
        raise
    return database, frozenset(rooms)


async def _one(  # noqa: PLR0917 (one recipient's send)
    running: Online,
    jid: str,
    is_room: bool,
    text: str,
    version: Namespace | None,
    args: SendArgs,
    console: Console,
) -> _Sent:
    """Send to one recipient; a failure is its outcome, not an exception."""
    try:
        if args.reply_to is not None and not is_room:
            report = await send_with_version(running, jid, text, version, reply_to=args.reply_to)
        elif args.reply_to is not None:
            report = await running.service.reply(
                jid, args.reply_to, text, allow_partial=args.partial
            )
        elif args.correct_last and not is_room:  # XEP-0308: corrects our last message there
            report = await send_with_version(running, jid, text, version, correct=True)
        elif args.correct_last:
            report = await running.service.correct_last(jid, text, allow_partial=args.partial)
        elif is_room:
            report = await _to_room(running, jid, text, version, args.allow_plaintext, args.partial)
        else:
            if args.allow_plaintext:
                await _allow_plaintext(running, jid)
            report = await send_with_version(running, jid, text, version)
    except SendFailed as failure:
        _print_skipped(failure.report, console)
        return _Sent(jid, None, CommandError(_hinted(failure, jid, args), _failure_code(failure)))
    except CommandError as error:
        return _Sent(jid, None, error)
    _print_skipped(report, console)
    if report.queued:
        return _Sent(
            jid, report, CommandError(f"not connected to the server; {QUEUED}", exits.QUEUED)
        )
    return _Sent(jid, report)


async def _to_room(  # noqa: PLR0917 (one room send's choices)
    running: Online,
    room: str,
    text: str,
    version: Namespace | None,
    allow_plaintext: bool,
    allow_partial: bool = False,
) -> SendReport:
    """Send in a joined room (a room we are not in is refused: nothing is joined, created or
    bookmarked on the way).

    Raises:
        CommandError: we are not in the room.
        SendFailed: nothing was sent.
    """
    groups = groups_of(running)
    if groups is None or room not in groups.joined_rooms():
        raise CommandError(
            f"not in the room {room}: join it first with `tui-omemo muc join "
            f"{room}`; nothing was sent"
        )
    if version is not None:
        await groups.set_room_version(room, version)
    return await groups.send_to_room(
        room, text, allow_plaintext=allow_plaintext, allow_partial=allow_partial
    )


async def _allow_plaintext(running: Online, peer: str) -> None:
    """Remember that `peer` may get unencrypted messages when it has no OMEMO device."""
    prefs = await running.service.session.prefs(peer)
    if not prefs.plaintext:
        await running.service.session.set_prefs(peer, replace(prefs, plaintext=True))


def _failure_code(failure: SendFailed) -> int:
    """No device could receive it (none, untrusted, distrusted) → `NO_DEVICE`; a failed fetch
    or encryption (raised from an error), or no message to reply to or correct → `FAILURE`."""
    if failure.__cause__ is not None or failure.reason in {NOTHING_TO_ANSWER, NOTHING_TO_CORRECT}:
        return exits.FAILURE
    return exits.NO_DEVICE


def _hinted(failure: SendFailed, jid: str, args: SendArgs) -> str:
    if failure.reason == NOTHING_TO_ANSWER:
        return (
            f"--reply-to {args.reply_to}: the chat with {jid} has no message with that id that "
            f"can be answered (use an id of `history {jid} --json`); nothing was sent"
        )
    if "explicitly" in failure.reason and "unencrypted" in failure.reason:
        return f"{failure.reason} (send --allow-plaintext)"
    if failure.partial_possible:
        return f"{failure.reason} (send --partial)"
    return failure.reason


async def send_with_version(
    running: Online,
    peer: str,
    text: str,
    version: Namespace | None,
    *,
    correct: bool = False,
    reply_to: int | None = None,
) -> SendReport:
    """Send `text` (`correct`: as a correction of our last message; `reply_to`: as a reply
    to the message with that archive id), in `version` for this message only when one is
    given.

    Raises:
        SendFailed: nothing was sent.
    """
    service = running.service

    async def send() -> SendReport:
        if reply_to is not None:
            return await service.reply(peer, reply_to, text)
        if correct:
            return await service.correct_last(peer, text)
        return await service.send(peer, text)

    if version is None:
        return await send()
    before = (await service.session.prefs(peer)).version
    await service.set_chat_version(peer, version)
    try:
        return await send()
    finally:
        await running.service.set_chat_version(peer, before)


def sent_json(jid: str, report: SendReport, *, room: bool) -> str:
    """A `sent` object of JSON schema 1: where one message went, in which OMEMO version(s),
    and which devices were left out (`skipped`, also on stderr)."""
    versions = report.versions or (() if report.omemo is None else (report.omemo,))
    return schema.dump(
        "sent",
        {
            "id": report.archive_id,
            "peer": jid,
            "room": jid if room else None,
            "encrypted": report.omemo is not None,
            "omemo": None if report.omemo is None else report.omemo.label,
            "versions": [namespace.label for namespace in versions],
            "skipped": [
                {
                    "jid": device.bare_jid,
                    "device": device.device_id,
                    "reason": device.reason,
                    "code": device.code or None,
                }
                for device in report.skipped
            ],
        },
    )


def _used(report: SendReport) -> str:
    """How a message went: plaintext, `OMEMO 2`, or `OMEMO 2 and 0.3` (one stanza carrying
    both versions, for devices that publish only one of them)."""
    if report.omemo is None:
        return "plaintext"
    versions = report.versions or (report.omemo,)
    return "OMEMO " + " and ".join(namespace.label for namespace in versions)


def _print_skipped(report: SendReport, console: Console) -> None:
    """The devices that did not get the message, on stderr (stdout is for results)."""
    for device in report.skipped:
        which = "" if device.device_id is None else f" device {device.device_id}"
        console.err(f"skipped {device.bare_jid}{which}: {device.reason}")
