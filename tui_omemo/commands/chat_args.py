"""The `send` and `listen` command lines: their parsers, apart from `commands.chat` and
`commands.listen` so that building the parser (every `tui-omemo` run) loads nothing of the
service or XMPP; each handler imports its command when it runs."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from tui_omemo.commands.helptext import examples

if TYPE_CHECKING:
    from tui_omemo.commands.console import Console
    from tui_omemo.commands.profile import ProfileOptions

DEFAULT_SEND_TIMEOUT = 30.0


def add_send_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add `send` to the top-level subparsers (`common`: --profile, --passphrase-file)."""
    parser = commands.add_parser(
        "send",
        parents=[common],
        help="send an encrypted message",
        description="Encrypt the message for each recipient's trusted devices and our other "
        "devices, say on stderr which devices were skipped and why, and return once the "
        "server has it. A recipient that is a room we joined gets it in the room. Nothing is "
        "sent unencrypted unless --allow-plaintext was chosen for a contact without OMEMO.",
        epilog=examples(
            "tui-omemo send bob@example.org 'see you at 6'",
            "echo 'backup done' | tui-omemo send -q bob@example.org",
            "tui-omemo send bob@example.org carol@example.org -m report.txt",
            "uptime | tui-omemo send ops@rooms.example.org -",
            "tui-omemo send bob@example.org 'see you at 7' --correct-last",
            "tui-omemo send bob@example.org 'yes, at 7' --reply-to 41",
        ),
    )
    parser.add_argument(
        "targets",
        metavar="JID",
        nargs="+",
        help="recipients (contacts or joined rooms), then TEXT; TEXT - or left out (with "
        "stdin not a terminal): read standard input",
    )
    parser.add_argument("-m", "--message-file", metavar="FILE", help="send the text of FILE")
    parser.add_argument("--room", action="store_true", help="every JID is a joined room")
    parser.add_argument(
        "--allow-plaintext",
        action="store_true",
        help="allow (and remember) unencrypted messages to a contact without OMEMO",
    )
    parser.add_argument(
        "--correct-last",
        action="store_true",
        help="send TEXT as a correction of our last encrypted message in each chat "
        "(XEP-0308: the chat shows it in place of that message, marked edited)",
    )
    parser.add_argument(
        "--reply-to",
        metavar="ID",
        type=int,
        help='send TEXT as a reply (XEP-0461) to the message ID of this chat: the "id" that '
        "`history JID --json` and `listen --json` print (its archive id). The text goes with a "
        "one-line quote of that message, which clients with replies leave out; one recipient",
    )
    parser.add_argument(
        "--partial",
        action="store_true",
        help="in a room: send to everyone with keys, skipping (and listing) members without "
        "a usable device; remembered for the room (as muc send --partial)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    parser.add_argument("--json", action="store_true", help="one JSON object per recipient reached")
    parser.add_argument(
        "--omemo",
        choices=["auto", "0.3", "2"],
        default="auto",
        help="the OMEMO version for this message (auto: 2 when the contact has it, else 0.3)",
    )
    parser.add_argument(
        "--timeout",
        metavar="S",
        type=float,
        default=DEFAULT_SEND_TIMEOUT,
        help="give up after S seconds (default %(default)g)",
    )
    parser.set_defaults(handler=_run_send)


def add_listen_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add `listen` to the top-level subparsers."""
    parser = commands.add_parser(
        "listen",
        parents=[common],
        help="print incoming messages",
        description="Log in, catch up, then print every message not printed before (in the "
        "order they were archived, each once), then new ones as they arrive. Says "
        "'listening as JID (device N)' on stderr once caught up. The position is kept in the "
        "profile and moves only after a message was written out.",
        epilog=examples(
            "tui-omemo listen --json | my-bot",
            "tui-omemo listen --count 1 --timeout 60 --from bob@example.org",
            "tui-omemo listen --name archiver --json >> messages.jsonl",
        ),
    )
    parser.add_argument("--count", metavar="N", type=int, help="stop after N messages")
    parser.add_argument("--timeout", metavar="S", type=float, help="stop after S seconds")
    parser.add_argument(
        "--echo",
        action="store_true",
        help="answer each decrypted message with 'echo: <text>' in the same OMEMO version "
        "(group messages in their room)",
    )
    parser.add_argument(
        "--since",
        metavar="ID",
        type=int,
        help="start after archive id ID instead of where the last run stopped",
    )
    parser.add_argument(
        "--from", dest="source", metavar="JID", help="only messages of this chat (contact or room)"
    )
    parser.add_argument(
        "--name",
        metavar="NAME",
        help="keep a separate position for this consumer (several scripts on one profile)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(handler=_run_listen)


def _run_send(options: ProfileOptions, args: argparse.Namespace, console: Console) -> int:
    from tui_omemo.commands.chat import SendArgs, send

    request = SendArgs(
        tuple(args.targets),
        args.omemo,
        args.timeout,
        args.message_file,
        args.room,
        args.allow_plaintext,
        args.quiet,
        args.json,
        args.correct_last,
        args.reply_to,
        args.partial,
    )
    return send(options, request, console)


def _run_listen(options: ProfileOptions, args: argparse.Namespace, console: Console) -> int:
    from tui_omemo.commands.listen import ListenArgs, listen

    request = ListenArgs(
        args.count, args.timeout, args.echo, args.json, args.since, args.source, args.name
    )
    return listen(options, request, console)
