"""The `send-file` and `download` command lines (encrypted file sharing, issue 18): their
parsers, apart from `commands.files` so that building the parser loads nothing of the service
or XMPP; each handler imports its command when it runs. The downloads directory is chosen
here too: a `download` handed to a running instance (`commands.frontends`) takes the
directory of the process it was typed in."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_omemo.commands.helptext import examples

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tui_omemo.commands.console import Console
    from tui_omemo.commands.profile import ProfileOptions

DEFAULT_FILE_TIMEOUT = 600.0
DOWNLOADS_ENV = "TUI_OMEMO_DOWNLOADS"
"""Overrides the downloads directory (tests, the demo)."""


def downloads_directory(environ: dict[str, str] | None = None) -> Path:
    """`$TUI_OMEMO_DOWNLOADS`, else the platform's downloads directory (platformdirs)."""
    import platformdirs

    chosen = (environ if environ is not None else os.environ).get(DOWNLOADS_ENV)
    return Path(chosen).expanduser() if chosen else platformdirs.user_downloads_path()


def with_download_directory(args: argparse.Namespace, argv: Sequence[str]) -> list[str]:
    """`argv` of a command handed to a running instance: a `download` without `--dir` gets
    this process's downloads directory (the instance may have another environment)."""
    if getattr(args, "command", None) != "download" or args.dir is not None:
        return list(argv)
    return [*argv, "--dir", str(downloads_directory())]


def add_file_parsers(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add `send-file` and `download` to the top-level subparsers."""
    send = commands.add_parser(
        "send-file",
        parents=[common],
        help="send a file, encrypted (XEP-0454)",
        description="Encrypt the file with a fresh key, upload it to the server's HTTP "
        "upload service and send its aesgcm:// link as an OMEMO message (never "
        "unencrypted). A file over the service's size limit is refused before anything "
        "is sent. The server sees neither the file's name nor its content.",
        epilog=examples(
            "tui-omemo send-file bob@example.org holiday.jpg",
            "tui-omemo send-file --room team@rooms.example.org report.pdf --json",
        ),
    )
    send.add_argument("jid", metavar="JID", help="the contact, or a joined room")
    send.add_argument("path", metavar="PATH", help="the file to send")
    send.add_argument("--room", action="store_true", help="JID is a joined room")
    send.add_argument(
        "--omemo",
        choices=["auto", "0.3", "2"],
        default="auto",
        help="the OMEMO version for this message (auto: the chat's)",
    )
    send.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    send.add_argument("--json", action="store_true", help="print a `sent` JSON object")
    _timeout(send)
    send.set_defaults(handler=_run_send_file)

    download = commands.add_parser(
        "download",
        parents=[common],
        help="save a received file",
        description="Fetch the file of a file message (its id is the `id` of `history "
        "--json`/`listen --json`), decrypt it, check it was not altered and save it under a "
        "name that never overwrites (`name (1).ext`); print the saved path. A file that "
        "fails the check is not kept.",
        epilog=examples(
            "tui-omemo download bob@example.org 1234",
            "tui-omemo download bob@example.org 1234 --dir ~/inbox --json",
        ),
    )
    download.add_argument("jid", metavar="JID", help="the contact or room of the message")
    download.add_argument("message_id", metavar="MESSAGE_ID", type=int, help="the message's id")
    download.add_argument(
        "--dir", metavar="DIR", help="save in DIR (default: the downloads directory)"
    )
    download.add_argument("--json", action="store_true", help="print a `saved` JSON object")
    _timeout(download)
    download.set_defaults(handler=_run_download)


def _timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        metavar="S",
        type=float,
        default=DEFAULT_FILE_TIMEOUT,
        help="give up after S seconds (default %(default)g)",
    )


def _run_send_file(options: ProfileOptions, args: argparse.Namespace, console: Console) -> int:
    from tui_omemo.commands.files import SendFileArgs, send_file

    request = SendFileArgs(
        args.jid, args.path, args.omemo, args.room, args.json, args.quiet, args.timeout
    )
    return send_file(options, request, console)


def _run_download(options: ProfileOptions, args: argparse.Namespace, console: Console) -> int:
    from tui_omemo.commands.files import DownloadArgs, download

    request = DownloadArgs(args.jid, args.message_id, args.dir, args.json, args.timeout)
    return download(options, request, console)
