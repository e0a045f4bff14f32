"""Composition root: command-line arguments → settings → keyring → store → client → command or UI.

`main` parses the command line, builds what the chosen command needs from the real world
(`Console`: streams, environment, the OS keyring) and runs it. Subcommand bodies live in
`tui_omemo.commands`. Exit status: 0 success; 1 failure, with one line on stderr; 2 a usage
error or a missing passphrase (with the hint how to supply one). Expected errors (the store's,
the protocol's, the transport's) never show a traceback, and nothing secret is ever printed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

from tui_omemo import __version__
from tui_omemo.commands import exits, frontends
from tui_omemo.commands.account_edit import add_account_edit_parsers
from tui_omemo.commands.chat_args import add_listen_parser, add_send_parser
from tui_omemo.commands.console import CommandError, Console, OutputClosed
from tui_omemo.commands.file_args import add_file_parsers, handed_over
from tui_omemo.commands.hardening import forbid_core_dumps
from tui_omemo.commands.helptext import examples
from tui_omemo.commands.muc_args import add_muc_parser
from tui_omemo.commands.profile import PASSPHRASE_ENV, ProfileOptions
from tui_omemo.xmpp import log_redaction

# Each command imports what it needs when it runs (`_run_*`): `--help`, a usage error or
# `history` never load the service, slixmpp or the OMEMO libraries.
PROG = "tui-omemo"
EXIT_OK = exits.OK
EXIT_FAILURE = exits.FAILURE
EXIT_USAGE = exits.USAGE
EXIT_INTERRUPTED = exits.INTERRUPTED
DEFAULT_HISTORY_LIMIT = 100

Handler = Callable[[ProfileOptions, argparse.Namespace, Console], int]

_DESCRIPTION = (
    "A terminal XMPP client with OMEMO end-to-end encryption. Without a command it opens "
    "the terminal app."
)
_PROFILE_NOTE = (
    "The profile directory is --profile DIR, else $TUI_OMEMO_HOME, else the platform data "
    "directory. A profile keeps its database key in the OS keyring; without a keyring (or to "
    f"choose a passphrase for a new profile) set {PASSPHRASE_ENV} or pass --passphrase-file "
    "FILE. With --json every command prints JSON schema 1 (see the README)."
)
_EPILOG = "\n\n".join(
    (
        textwrap.fill(_PROFILE_NOTE, 78),
        exits.help_text(),
        examples(
            "tui-omemo account add alice@example.org --password-stdin < password.txt",
            "tui-omemo send bob@example.org 'hello'",
            "tui-omemo listen --json",
        ),
    )
)


class _Formatter(argparse.HelpFormatter):
    """Wraps descriptions as usual, but keeps a text with line breaks (the examples) as
    written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that writes to the run's `Console` instead of `sys.std*`."""

    console: Console

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        if message:
            write = self.console.err if file is sys.stderr else self.console.out
            with contextlib.suppress(OutputClosed):  # `--help | head -1`: a quiet end
                write(message.removesuffix("\n"))

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _parser_class(run_console: Console) -> type[_Parser]:
    """A parser class bound to one run's console (argparse builds subparsers from a class)."""

    class RunParser(_Parser):
        console = run_console

    return RunParser


def _global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """--profile and --passphrase-file, accepted before and after the command name."""
    default = None if top else argparse.SUPPRESS
    parser.add_argument(
        "--profile", metavar="DIR", default=default, help="the profile directory to use"
    )
    parser.add_argument(
        "--passphrase-file",
        metavar="FILE",
        default=default,
        help=f"read the database passphrase from FILE (else ${PASSPHRASE_ENV})",
    )


def build_parser(console: Console) -> argparse.ArgumentParser:
    """The whole command line, wired to `console` for help and usage output."""
    parser_class = _parser_class(console)
    parser = parser_class(prog=PROG, description=_DESCRIPTION, epilog=_EPILOG)
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _global_options(parser, top=True)
    common = parser_class(add_help=False)
    _global_options(common, top=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=parser_class)
    _add_account_parser(commands, common)
    _add_history_parser(commands, common)
    add_send_parser(commands, common)
    add_listen_parser(commands, common)
    add_muc_parser(commands, common)
    _add_trust_parsers(commands, common)
    _add_settings_parser(commands, common)
    _add_open_parser(commands, common)
    # encrypted file sharing (issue 18): send-file, download
    add_file_parsers(commands, common)
    _add_status_parser(commands, common)
    return parser


def _add_account_parser(commands: argparse._SubParsersAction[_Parser], common: _Parser) -> None:
    account = commands.add_parser(
        "account", parents=[common], help="set up, change or show the profile's XMPP account"
    )
    actions = account.add_subparsers(
        dest="account_command",
        metavar="ACTION",
        required=True,
        parser_class=type(account),
    )
    add = actions.add_parser(
        "add",
        parents=[common],
        help="create the profile, its encrypted database and this device's OMEMO identity",
        description="Create the profile, its encrypted database and this device's OMEMO "
        "identity; prints the JID, the device id and its fingerprint. Needs no server. "
        "Without a terminal to ask on, --password-stdin is required.",
        epilog=examples(
            "tui-omemo account add alice@example.org",
            "pass show xmpp | tui-omemo --profile ~/bot account add bot@example.org "
            "--password-stdin",
        ),
    )
    add.add_argument("jid", metavar="JID", help="the account's bare JID (name@domain)")
    add.add_argument(
        "--server", metavar="HOST[:PORT]", help="connect here instead of the JID's domain"
    )
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the account password from the first line of standard input",
    )
    add.add_argument(
        "--allow-plaintext-loopback",
        action="store_true",
        help="allow an unencrypted connection, only to a server on this machine (tests, demo)",
    )
    add.add_argument(
        "--pin-certificate",
        metavar="SHA256",
        help="trust exactly the server certificate with this SHA-256 fingerprint (self-hosted "
        "servers; the fingerprint is shown when a certificate is refused)",
    )
    add.set_defaults(handler=_run_account_add)
    add_account_edit_parsers(actions, common)


def _add_history_parser(commands: argparse._SubParsersAction[_Parser], common: _Parser) -> None:
    parser = commands.add_parser(
        "history",
        parents=[common],
        help="print a conversation from the encrypted archive",
        epilog=examples(
            "tui-omemo history bob@example.org --limit 20",
            "tui-omemo history bob@example.org --search 'train ticket' --json",
            "tui-omemo history --after 1234 --json    # everything archived after id 1234",
        ),
    )
    parser.add_argument(
        "jid", metavar="JID", nargs="?", help="the contact's or room's bare JID (--after: optional)"
    )
    parser.add_argument("--search", metavar="TEXT", help="only messages containing every word")
    parser.add_argument(
        "--after",
        metavar="ID",
        type=int,
        help="the messages archived after archive id ID, oldest first, across all chats "
        "(only JID's with JID)",
    )
    parser.add_argument(
        "--limit",
        metavar="N",
        type=int,
        default=DEFAULT_HISTORY_LIMIT,
        help="at most N messages (the newest; with --after the oldest after ID)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(handler=_run_history)


def _add_trust_parsers(commands: argparse._SubParsersAction[_Parser], common: _Parser) -> None:
    listing = commands.add_parser(
        "devices",
        parents=[common],
        help="list OMEMO devices with fingerprints and trust",
        description="List the devices of JID (fetched from the server again), or without JID "
        "our own devices followed by every contact's.",
        epilog=examples("tui-omemo devices", "tui-omemo devices bob@example.org --json"),
    )
    listing.add_argument("jid", metavar="JID", nargs="?", help="a contact's bare JID")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(handler=_run_devices)

    decide = commands.add_parser(
        "trust",
        parents=[common],
        help="decide whether a device gets message keys",
        epilog=examples(
            "tui-omemo trust bob@example.org 123456789 --verify",
            "tui-omemo trust bob@example.org 987654321 --distrust --json",
        ),
    )
    decide.add_argument("jid", metavar="JID", help="the device's bare JID")
    decide.add_argument("device_id", metavar="DEVICE_ID", type=int, help="the device id")
    choice = decide.add_mutually_exclusive_group(required=True)
    choice.add_argument(
        "--verify",
        dest="level",
        action="store_const",
        const="verify",
        help="you compared the fingerprint: verified",
    )
    choice.add_argument(
        "--blind", dest="level", action="store_const", const="blind", help="trust without verifying"
    )
    choice.add_argument(
        "--distrust",
        dest="level",
        action="store_const",
        const="distrust",
        help="never encrypt for this device",
    )
    choice.add_argument(
        "--undecided",
        dest="level",
        action="store_const",
        const="undecided",
        help="forget the decision",
    )
    decide.add_argument("--json", action="store_true", help="the decision as one JSON object")
    decide.set_defaults(handler=_run_trust)

    verify = commands.add_parser(
        "verify-uri",
        parents=[common],
        help="verify the devices listed in an xmpp:…?omemo-sid-N=… URI",
        epilog=examples("tui-omemo verify-uri 'xmpp:bob@example.org?omemo-sid-123456789=05ab…'"),
    )
    verify.add_argument("uri", metavar="URI", help="the trust URI (from a QR code or a contact)")
    verify.set_defaults(handler=_run_verify_uri)


def _add_settings_parser(commands: argparse._SubParsersAction[_Parser], common: _Parser) -> None:
    parser = commands.add_parser(
        "settings",
        parents=[common],
        help="show or change the OMEMO options",
        description="Without KEY list every option; with KEY show it; with KEY VALUE change it.",
        epilog=examples(
            "tui-omemo settings",
            "tui-omemo settings trust_mode manual",
            "tui-omemo settings --json",
        ),
    )
    parser.add_argument("key", metavar="KEY", nargs="?", help="an option name")
    parser.add_argument("value", metavar="VALUE", nargs="?", help="its new value")
    parser.add_argument("--json", action="store_true", help="one JSON object per option")
    parser.set_defaults(handler=_run_settings)


def _add_open_parser(commands: argparse._SubParsersAction[_Parser], common: _Parser) -> None:
    parser = commands.add_parser(
        "open",
        parents=[common],
        help="open the terminal app on the chat with JID",
        epilog=examples("tui-omemo open bob@example.org"),
    )
    parser.add_argument("jid", metavar="JID", help="the contact's bare JID")
    parser.set_defaults(handler=_run_open)


def _run_account_add(options: ProfileOptions, args: argparse.Namespace, console: Console) -> int:
    from tui_omemo.commands.account import AccountAdd, add_account

    request = AccountAdd(
        args.jid, args.server, args.password_stdin, args.allow_plaintext_loopback,
        args.pin_certificate,
    )  # fmt: skip
    return add_account(options, request, console)


def _run_history(options: ProfileOptions, args: argparse.Namespace, console: Console) -> int:
    from tui_omemo.commands.history import HistoryArgs, history

    request = HistoryArgs(args.jid, args.search, args.limit, args.json, args.after)
    return history(options, request, console)


def _run_devices(options: ProfileOptions, args: argparse.Namespace, console: Console) -> int:
    from tui_omemo.commands.trust import DevicesArgs, devices

    return devices(options, DevicesArgs(args.jid, args.json), console)


def _run_trust(options: ProfileOptions, args: argparse.Namespace, console: Console) -> int:
    from tui_omemo.commands.trust import TRUST_WORDS, set_trust

    level = TRUST_WORDS[args.level]
    return set_trust(options, args.jid, args.device_id, level, console, as_json=args.json)


def _run_verify_uri(options: ProfileOptions, args: argparse.Namespace, console: Console) -> int:
    from tui_omemo.commands.trust import verify_uri

    return verify_uri(options, args.uri, console)


def _run_settings(options: ProfileOptions, args: argparse.Namespace, console: Console) -> int:
    from tui_omemo.commands.settings import SettingsArgs, settings

    return settings(options, SettingsArgs(args.key, args.value, args.json), console)


def _run_open(options: ProfileOptions, args: argparse.Namespace, console: Console) -> int:
    from tui_omemo.commands.app import open_app

    return open_app(options, args.jid, console)


def main(argv: Sequence[str] | None = None, console: Console | None = None) -> int:
    """Run the `tui-omemo` command.

    Args:
        argv: the arguments after the program name (default: `sys.argv[1:]`).
        console: streams, environment and keyring (default: the real ones).

    Returns:
        The exit status (`commands.exits`): 0 done, 1 failure, 2 usage error or missing
        passphrase, 3-7 the distinct failures listed in `--help`, 130 interrupted.

    Run as the real program (no console handed in), the process first forbids core dumps.
    """
    try:
        if console is None:
            forbid_core_dumps()
            _reserve_standard_fds()
            console = Console()
        _quiet_logging(console)
        parser = build_parser(console)
        try:
            args = parser.parse_args(argv)
        except SystemExit as exit_:  # --help, or a usage error already reported
            return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
        options = ProfileOptions(args.profile, args.passphrase_file)
        served = _served(args, sys.argv[1:] if argv is None else argv, options, console)
        if served is not None:
            return served
        handler: Handler = getattr(args, "handler", _run_app)
        return _run(handler, options, args, console)
    except KeyboardInterrupt:  # Ctrl-C while starting up: no traceback
        return EXIT_INTERRUPTED


def _run(
    handler: Handler, options: ProfileOptions, args: argparse.Namespace, console: Console
) -> int:
    """Run one command, turning expected errors into one line on stderr and an exit status."""
    try:
        return handler(options, args, console)
    except OutputClosed:  # the reader went away: what was done is done
        return EXIT_OK
    except CommandError as error:
        console.err(f"{PROG}: {error}")
        return error.exit_code
    except KeyboardInterrupt:
        console.err(f"{PROG}: interrupted")
        return EXIT_INTERRUPTED
    except Exception as error:
        code = _expected(error)
        if code is None:
            raise
        console.err(f"{PROG}: {_one_line(error)}")
        return code


def _expected(error: Exception) -> int | None:
    """The exit status of an expected error of the store, the protocol or the transport (the
    modules are loaded already when one of their errors is raised), None for anything else."""
    from tui_omemo.protocol.errors import ProtocolError
    from tui_omemo.store import ProfileLocked, StoreError
    from tui_omemo.xmpp.errors import (
        AuthenticationFailed,
        ConnectionFailed,
        TransportError,
    )

    if isinstance(error, ProfileLocked):
        return exits.BUSY
    if isinstance(error, AuthenticationFailed):
        return exits.AUTH_REFUSED
    if isinstance(error, ConnectionFailed):
        return exits.UNREACHABLE
    if isinstance(error, (StoreError, ProtocolError, TransportError)):
        return EXIT_FAILURE
    return None


# --- issue 17: `status`, and one profile served to several front ends ----------------------


def _add_status_parser(commands: argparse._SubParsersAction[_Parser], common: _Parser) -> None:
    parser = commands.add_parser(
        "status",
        parents=[common],
        help="show or set your availability and status message",
        description="Without arguments print your availability (and status message); with "
        "SHOW set it, with TEXT also the message (none: no message). While the app or listen "
        "runs, contacts see it at once; otherwise at the next login.",
        epilog=examples("tui-omemo status away back at 3", "tui-omemo status online"),
    )
    parser.add_argument("show", metavar="SHOW", nargs="?", help="online, away, dnd or xa")
    parser.add_argument("text", metavar="TEXT", nargs="*", help="the status message")
    parser.set_defaults(handler=_run_status)


def _run_status(options: ProfileOptions, args: argparse.Namespace, console: Console) -> int:
    from tui_omemo.commands.status import StatusArgs, status

    return status(options, StatusArgs(args.show, tuple(args.text)), console)


def _served(
    args: argparse.Namespace, argv: Sequence[str], options: ProfileOptions, console: Console
) -> int | None:
    """The exit status of the command as the instance holding the profile ran it, or None
    when no instance serves it (`commands.frontends`); `main` is what that instance runs."""
    frontends.DISPATCH.set(main)
    if not frontends.is_served(args):
        return None
    from tui_omemo.commands.profile import profile_dir

    try:
        directory = profile_dir(options, console)
    except Exception:  # an unusable profile option: the command itself says what is wrong
        return None
    forwarded = handed_over(args, frontends.with_absolute_paths(argv, Path.cwd()), Path.cwd())
    return None if forwarded is None else frontends.forward(directory, forwarded, console)


def _reserve_standard_fds() -> None:
    """Give a closed stdin, stdout or stderr (`>&-`) /dev/null, so no file the command opens
    (the database, a socket) lands on descriptor 0-2 where a stray write could reach it."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            devnull = os.open(os.devnull, os.O_RDWR)
            if devnull != fd:
                os.dup2(devnull, fd)
                os.close(devnull)


def _run_app(options: ProfileOptions, _args: argparse.Namespace, console: Console) -> int:
    """No command: the terminal app."""
    from tui_omemo.commands.app import open_app

    return open_app(options, None, console)


def _quiet_logging(console: Console) -> None:
    """Library log records stay off the terminal (slixmpp warns on stderr otherwise), unless
    TUI_OMEMO_DEBUG is set. Records never carry keys, SASL payloads or message text: every
    handler of the root logger redacts them (DESIGN.md §3.9, §3.13)."""
    import logging

    root = logging.getLogger()
    if console.environ.get("TUI_OMEMO_DEBUG"):
        logging.basicConfig(level=logging.DEBUG, stream=console.stderr)
    elif not root.handlers:
        root.addHandler(logging.NullHandler())
    log_redaction.install(root.handlers)


def _one_line(error: BaseException) -> str:
    """The first line of an error's message, or its class name when it has none."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
