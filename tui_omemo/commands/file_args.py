"""The `send-file` and `download` command lines (encrypted file sharing, issue 18): their
parsers, apart from `commands.files` so that building the parser loads nothing of the service
or XMPP; each handler imports its command when it runs. What a running instance
(`commands.frontends`) is handed is settled here too, in the terms of the process the command
was typed in: a `download` takes its downloads directory, a `send-file` its PATH as that
process names it (absolute, `~` expanded, its own `/dev/stdin` or `/dev/fd/N` as
`/proc/PID/...`, never the instance's own descriptors)."""

from __future__ import annotations

import argparse
import os
import re
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
_VALUE_OPTIONS = ("--profile", "--passphrase-file", "--omemo", "--timeout")
"""The options before `send-file`'s positionals that take the next word as their value."""
_NEGATIVE_NUMBER = re.compile(r"-\d+|-\d*\.\d+")  # a positional to argparse, not an option


def downloads_directory(environ: dict[str, str] | None = None) -> Path:
    """`$TUI_OMEMO_DOWNLOADS`, else the platform's downloads directory (platformdirs)."""
    import platformdirs

    chosen = (environ if environ is not None else os.environ).get(DOWNLOADS_ENV)
    return Path(chosen).expanduser() if chosen else platformdirs.user_downloads_path()


def handed_over(args: argparse.Namespace, argv: Sequence[str], cwd: Path) -> list[str] | None:
    """`argv` of a command handed to a running instance, in this process's terms (the
    instance may have another environment and working directory): a `download` without
    `--dir` gets this process's downloads directory; `send-file`'s PATH is made absolute from
    `cwd`, `~` expanded, as this process sees it (`_as_seen_here`). None when PATH cannot be
    told apart in `argv` (the command then runs alone)."""
    command = getattr(args, "command", None)
    if command == "download" and args.dir is None:
        return [*argv, "--dir", str(downloads_directory())]
    if command != "send-file":
        return list(argv)
    positionals = _positionals(argv)  # the command's name, JID, PATH
    if len(positionals) != 3 or argv[positionals[2]] != args.path:
        return None
    result = list(argv)
    result[positionals[2]] = _as_seen_here(args.path, cwd)
    return result


def _positionals(argv: Sequence[str]) -> list[int]:
    """The indices of the words argparse takes as positionals (the words of `send-file`'s
    command line: its options are flags but for `_VALUE_OPTIONS`, maybe abbreviated)."""
    found: list[int] = []
    after_dashes = takes_value = False
    for index, word in enumerate(argv):
        if takes_value:
            takes_value = False
        elif after_dashes or not _is_option(word):
            found.append(index)
        elif word == "--":
            after_dashes = True
        else:
            takes_value = "=" not in word and any(o.startswith(word) for o in _VALUE_OPTIONS)
    return found


def _is_option(word: str) -> bool:
    return (word.startswith("-") and word != "-" and " " not in word
            and not _NEGATIVE_NUMBER.fullmatch(word))  # fmt: skip


def _as_seen_here(word: str, cwd: Path) -> str:
    """`word` as a path that names, in another process, the file it names in this one:
    absolute, `~` expanded, and what goes through `/proc/self` (`/dev/stdin`, `/dev/fd/N`)
    through this process's `/proc/PID` (the instance must not read its own descriptors)."""
    path = cwd / os.path.expanduser(word)
    try:
        if path.is_symlink() and (target := os.readlink(path)).startswith("/proc/self/"):
            path = Path(target)
    except OSError:
        pass
    return str(Path(os.path.realpath(path.parent)) / path.name)


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
        "--partial",
        action="store_true",
        help="in a room, send to everyone with keys, skipping members without a usable "
        "device; remembered for the room (as muc send --partial)",
    )
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
        args.jid,
        args.path,
        args.omemo,
        args.room,
        args.json,
        args.quiet,
        args.timeout,
        partial=args.partial,
    )
    return send_file(options, request, console)


def _run_download(options: ProfileOptions, args: argparse.Namespace, console: Console) -> int:
    from tui_omemo.commands.files import DownloadArgs, download

    request = DownloadArgs(args.jid, args.message_id, args.dir, args.json, args.timeout)
    return download(options, request, console)
