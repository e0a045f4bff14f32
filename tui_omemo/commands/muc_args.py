"""The `muc` command line: its arguments and parser, apart from `commands.muc` so that
building the parser (every `tui-omemo` run) loads nothing of the service or XMPP."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui_omemo.commands.helptext import examples

if TYPE_CHECKING:
    from tui_omemo.commands.console import Console
    from tui_omemo.commands.profile import ProfileOptions

DEFAULT_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class MucArgs:
    """The arguments of one `muc` action."""

    action: str
    room: str
    nick: str | None = None
    members: tuple[str, ...] = ()
    text: str | None = None
    partial: bool = False
    plaintext: bool = False
    omemo: str = "auto"
    json: bool = False
    timeout: float = DEFAULT_TIMEOUT


def add_muc_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add `muc` and its actions to the top-level subparsers (`common` holds --profile and
    --passphrase-file). Sets `handler` to `run_muc`."""
    muc = commands.add_parser(
        "muc",
        parents=[common],
        help="encrypted group chats (rooms)",
        epilog=examples(
            "tui-omemo muc join team@rooms.example.org --nick alice",
            "tui-omemo muc send team@rooms.example.org 'standup in 5'",
            "tui-omemo muc members team@rooms.example.org --json",
        ),
    )
    actions = muc.add_subparsers(dest="muc_action", metavar="ACTION", required=True)
    join = actions.add_parser(
        "join",
        parents=[common],
        help="join and bookmark a room",
        description="Join ROOM (rejoined on every later connect), print "
        "its OMEMO gate and its members' readiness.",
        epilog=examples(
            "tui-omemo muc join team@rooms.example.org --nick alice",
            "tui-omemo muc join new@rooms.example.org --member bob@example.org --json",
        ),
    )
    join.add_argument("room", metavar="ROOM", help="the room's bare JID")
    join.add_argument("--nick", metavar="N", help="our nickname (default: the JID's localpart)")
    join.add_argument(
        "--member",
        metavar="JID",
        action="append",
        default=[],
        help="make JID a member first (we must own or administer the room); repeatable",
    )
    join.add_argument("--json", action="store_true", help="one JSON object")
    send = actions.add_parser(
        "send",
        parents=[common],
        help="send one message to a room",
        description="Encrypt TEXT for every trusted device of every "
        "member; nothing is sent unencrypted unless the room refuses "
        "OMEMO and --plaintext is given. A room we are not in is refused "
        "(join it first).",
        epilog=examples(
            "tui-omemo muc send team@rooms.example.org 'standup in 5'",
            "tui-omemo muc send team@rooms.example.org 'hi' --partial",
        ),
    )
    send.add_argument("room", metavar="ROOM", help="the room's bare JID")
    send.add_argument("text", metavar="TEXT", help="the message")
    send.add_argument(
        "--partial",
        action="store_true",
        help="send to everyone with keys, skipping (and listing) members without "
        "a usable device; remembered for the room",
    )
    send.add_argument(
        "--plaintext",
        action="store_true",
        help="send unencrypted, only in a room that refuses OMEMO; remembered",
    )
    send.add_argument(
        "--omemo",
        choices=["auto", "0.3", "2"],
        default="auto",
        help="the OMEMO version for this room (auto: 2 when every member has it)",
    )
    send.add_argument(
        "--timeout",
        metavar="S",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="give up after S seconds (default %(default)g)",
    )
    members = actions.add_parser(
        "members",
        parents=[common],
        help="member readiness",
        epilog=examples("tui-omemo muc members team@rooms.example.org --json"),
    )
    members.add_argument("room", metavar="ROOM", help="the room's bare JID")
    members.add_argument("--json", action="store_true", help="one JSON object per line")
    leave = actions.add_parser(
        "leave",
        parents=[common],
        help="leave a room, drop its bookmark",
        epilog=examples("tui-omemo muc leave team@rooms.example.org"),
    )
    leave.add_argument("room", metavar="ROOM", help="the room's bare JID")
    muc.set_defaults(handler=_run_muc)


def _run_muc(options: ProfileOptions, args: argparse.Namespace, console: Console) -> int:
    from tui_omemo.commands.muc import run_muc

    return run_muc(options, args, console)
