"""`tui-omemo muc join|send|members|leave`: encrypted group chats from the command line.

A command-line run is one short session, so "being in a room" lasts beyond it through a
bookmark (XEP-0402, else XEP-0048) with autojoin: `muc join` joins and bookmarks the room,
every later run (`muc send`, `muc members`, `listen`) rejoins the bookmarked rooms on connect
and catches up from their archives, and `muc leave` leaves and drops the bookmark.

* `muc join ROOM [--nick N] [--member JID …] [--json]` prints the OMEMO gate (or the
  one-sentence reason the room refuses OMEMO) and each member's readiness. A room that does
  not exist yet is created members-only and non-anonymous; `--member` grants membership.
* `muc send ROOM TEXT [--partial] [--plaintext] [--omemo auto|0.3|2]` encrypts for every
  trusted device of every member; members without a usable device stop the send unless
  `--partial` (remembered for the room) and are listed; `--plaintext` is only honoured in a
  room that refuses OMEMO. Returns once the server has the message.
* `muc members ROOM [--json]`: readiness per member (keys, devices trusted / undecided /
  distrusted, last error).

`listen` shows group messages with `room` and `nick` and `--echo` answers
them in the room (`echo_in_room`). The rooms come from the running service (`groups_of`):
`OmemoChatService` builds the group-chat component and rejoins the bookmarked rooms on start.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from tui_omemo.commands import frontends, schema
from tui_omemo.commands.console import CommandError, Console, UsageError
from tui_omemo.commands.jids import check_jid
from tui_omemo.commands.muc_args import DEFAULT_TIMEOUT, MucArgs
from tui_omemo.commands.profile import ProfileOptions
from tui_omemo.commands.runtime import Online, online, server_has_everything
from tui_omemo.model import Namespace
from tui_omemo.service.api import ChatMessage, MemberReadiness, RoomInfo, SendFailed, SendReport
from tui_omemo.service.muc import GroupChats
from tui_omemo.xmpp.errors import TransportError

T = TypeVar("T")

ECHO_PREFIX = "echo: "


def run_muc(options: ProfileOptions, args: argparse.Namespace, console: Console) -> int:
    """Run one `muc` action (the handler `add_muc_parser` installs).

    Raises:
        UsageError: a bad room JID or timeout.
        CommandError: the room refused us, or nothing was sent.
        StoreError, TransportError: the profile or the server failed.
    """
    request = MucArgs(
        args.muc_action,
        check_jid(args.room),
        getattr(args, "nick", None),
        tuple(check_jid(jid) for jid in getattr(args, "member", [])),
        getattr(args, "text", None),
        getattr(args, "partial", False),
        getattr(args, "plaintext", False),
        getattr(args, "omemo", "auto"),
        getattr(args, "json", False),
        getattr(args, "timeout", DEFAULT_TIMEOUT),
    )
    if request.timeout <= 0:
        raise UsageError("--timeout must be more than 0 seconds")
    return frontends.run(_limited(_muc(options, request, console), request.timeout))


async def _limited(coroutine: Coroutine[Any, Any, T], timeout: float) -> T:  # noqa: ASYNC109
    try:
        async with asyncio.timeout(timeout):
            return await coroutine
    except TimeoutError:
        raise CommandError(f"the room command timed out after {timeout:g} s") from None


def groups_of(running: Online) -> GroupChats | None:
    """The group-chat component of a running service: `OmemoChatService` builds it over its
    XMPP client and its `start()` has already rejoined and caught up the bookmarked rooms.
    None for a service without one (a transport without an XMPP client)."""
    groups = running.service.groups
    return groups if isinstance(groups, GroupChats) else None


async def _muc(options: ProfileOptions, args: MucArgs, console: Console) -> int:
    async with online(options, console) as running:
        groups = groups_of(running)
        if groups is None:
            raise CommandError("this connection has no group chats")
        if args.action == "leave":
            await groups.leave_room(args.room)
            console.out(f"left {args.room}")
            return 0
        if args.action == "send" and args.room not in groups.joined_rooms():
            raise CommandError(
                f"not in the room {args.room}: join it first with `tui-omemo "
                f"muc join {args.room}`; nothing was sent"
            )
        info = await _enter(groups, args, running)
        if args.action == "send":
            await _send(groups, args, console)
            await server_has_everything(running.client, args.timeout)
            await running.service.confirm_sent(args.timeout)  # out of the outbox
        elif args.action == "members":
            _print_members(info.members, groups.members(args.room), args.json, console)
        else:
            _print_room(info, groups.members(args.room), args.json, console)
        return 0


async def _enter(groups: GroupChats, args: MucArgs, running: Online) -> RoomInfo:
    """The room, joined: already (bookmark) or now."""
    if args.room in groups.joined_rooms() and args.nick is None and not args.members:
        return await groups.room_info(args.room)
    prefs = await groups.prefs(args.room)
    nick = args.nick or prefs.nick or running.account.jid.partition("@")[0]
    try:
        if args.members:
            return await groups.create_room(args.room, nick, args.members)
        return await groups.join_room(args.room, nick)
    except TransportError as error:
        raise CommandError(f"could not join {args.room}: {error}") from None


async def _send(groups: GroupChats, args: MucArgs, console: Console) -> SendReport:
    if args.omemo != "auto":
        await groups.set_room_version(args.room, Namespace.from_label(args.omemo))
    try:
        report = await groups.send_to_room(
            args.room, args.text or "", allow_plaintext=args.plaintext, allow_partial=args.partial
        )
    except SendFailed as failure:
        _print_skipped(failure.report, console)
        raise CommandError(failure.reason) from None
    _print_skipped(report, console)
    used = "plaintext" if report.omemo is None else f"OMEMO {report.omemo.label}"
    console.out(f"sent to {args.room} with {used}")
    return report


def _print_skipped(report: SendReport, console: Console) -> None:
    for device in report.skipped:
        which = "" if device.device_id is None else f" device {device.device_id}"
        console.out(f"skipped {device.bare_jid}{which}: {device.reason}")


def readiness_json(member: MemberReadiness, affiliation: str | None = None) -> dict[str, object]:
    """One member's readiness: the fields of a `member` object of JSON schema 1."""
    return {
        "jid": member.bare_jid,
        "nick": member.nick,
        "affiliation": affiliation,
        "has_keys": member.has_keys,
        "trusted": member.trusted,
        "undecided": member.undecided,
        "distrusted": member.distrusted,
        "last_error": member.last_error,
    }


def room_json(info: RoomInfo, affiliations: dict[str, str]) -> str:
    """A `room` object of JSON schema 1 (`encrypted`: the room qualifies for OMEMO, so
    messages in it are encrypted; `refusal`: why not, or null)."""
    return schema.dump(
        "room",
        {
            "room": info.jid,
            "nick": info.nick,
            "subject": info.subject,
            "encrypted": info.omemo_allowed,
            "refusal": info.omemo_refusal,
            "members": [
                {
                    "schema": schema.VERSION,
                    "type": "member",
                    **readiness_json(member, affiliations.get(member.bare_jid)),
                }
                for member in info.members
            ],
        },
    )


def _print_members(
    members: tuple[MemberReadiness, ...],
    affiliations: dict[str, str],
    as_json: bool,
    console: Console,
) -> None:
    for member in members:
        affiliation = affiliations.get(member.bare_jid)
        if as_json:
            console.out(schema.dump("member", readiness_json(member, affiliation)))
            continue
        nick = f" ({member.nick})" if member.nick else ""
        role = f" [{affiliation}]" if affiliation else ""
        error = f"; {member.last_error}" if member.last_error else ""
        console.out(
            f"{member.bare_jid}{nick}{role}: keys {'yes' if member.has_keys else 'no'}, "
            f"{member.trusted} trusted, {member.undecided} undecided, "
            f"{member.distrusted} distrusted{error}"
        )


def _print_room(
    info: RoomInfo, affiliations: dict[str, str], as_json: bool, console: Console
) -> None:
    if as_json:
        console.out(room_json(info, affiliations))
        return
    console.out(f"joined {info.jid} as {info.nick}")
    if info.subject:
        console.out(f"subject: {info.subject}")
    console.out("OMEMO: on" if info.omemo_allowed else f"OMEMO: off. {info.omemo_refusal}")
    _print_members(info.members, affiliations, False, console)


async def echo_in_room(
    groups: GroupChats, message: ChatMessage, console: Console, text: str | None = None
) -> None:
    """`listen --echo` for a group message: answer `echo: <text>` in the room, encrypted (a
    failure is reported, not fatal); `text` replaces the body (a file's digest)."""
    if message.outgoing or message.omemo is None or message.body.startswith(ECHO_PREFIX):
        return  # never answer our own messages, plaintext, or an echo (two echoers would loop)
    try:
        await groups.send_to_room(message.peer, ECHO_PREFIX + (text or message.body))
    except (SendFailed, KeyError) as failure:
        console.err(f"tui-omemo: echo to {message.peer} not sent: {failure}")
