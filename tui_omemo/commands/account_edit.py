"""`tui-omemo account set` and `account show`: change and see the account of an existing profile.

Both work without the server, so they are the way out after a failed login: a wrong password,
a server that moved, the loopback-plaintext switch, this device's label. A change rewrites the
account row (and the label setting) in one transaction; the OMEMO identity, the sessions, the
trust decisions and the history are not touched. The password is read from standard input
(`--password-stdin`) and is never printed, not even by `show`.

Each option of `set` is one field of `AccountSet` and one `AccountChange` field. The
certificate pin (`--pin-certificate`) is kept in the settings table beside the remembered login
mechanism (`service.certificate_pin`), written in the same transaction as the rest.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui_omemo.commands import schema
from tui_omemo.commands.console import CommandError, Console, UsageError
from tui_omemo.commands.profile import ProfileOptions, open_database

# The parser is built on every run: the service, the store and the certificate code are
# imported when a command runs, so `--help` stays light (benchmarks/startup.py).
if TYPE_CHECKING:
    from tui_omemo.service.api import AccountChange, AccountInfo

DOMAIN = "(the JID's domain)"
NOTHING_TO_CHANGE = (
    "nothing to change: give --password-stdin, --server, --allow-plaintext-loopback, "
    "--no-plaintext-loopback, --label or --pin-certificate"
)


@dataclass(frozen=True, slots=True)
class AccountSet:
    """The arguments of `account set` (None: leave as it is)."""

    password_stdin: bool = False
    server: str | None = None
    allow_plaintext_loopback: bool | None = None
    label: str | None = None
    pin_certificate: str | None = None
    """A SHA-256 certificate fingerprint to pin, or "" to remove the pin."""


def add_account_edit_parsers(actions: Any, common: argparse.ArgumentParser) -> None:
    """Add `set` and `show` to the `account` subparsers (`common` holds --profile and
    --passphrase-file); their `handler` runs `account_set` / `account_show`."""
    change = actions.add_parser(
        "set",
        parents=[common],
        help="change the password, server, plaintext switch or label; keys, trust and history stay",
        description="Change the account of this profile without the server (e.g. after a "
        "failed login). Keys, trust decisions and history are kept. Prints the account.",
    )
    change.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the new password from the first line of standard input",
    )
    change.add_argument(
        "--server",
        metavar="HOST[:PORT]",
        help="connect here ('' for the JID's domain again)",
    )
    switch = change.add_mutually_exclusive_group()
    switch.add_argument(
        "--allow-plaintext-loopback",
        dest="plaintext",
        action="store_const",
        const=True,
        help="allow an unencrypted connection, only to a server on this machine",
    )
    switch.add_argument(
        "--no-plaintext-loopback",
        dest="plaintext",
        action="store_const",
        const=False,
        help="require TLS again",
    )
    change.add_argument(
        "--label", metavar="TEXT", help="this device's label ('' removes it; OMEMO 2 lists)"
    )
    change.add_argument(
        "--pin-certificate",
        metavar="SHA256",
        help="trust exactly the server certificate with this SHA-256 fingerprint ('' removes "
        "the pin; the fingerprint is shown when a certificate is refused)",
    )
    change.set_defaults(handler=_run_set)
    show = actions.add_parser(
        "show",
        parents=[common],
        help="print the account, this device and our other devices (never the password)",
    )
    show.add_argument("--json", action="store_true", help="one JSON object")
    show.set_defaults(handler=_run_show)


def _run_set(options: ProfileOptions, args: argparse.Namespace, console: Console) -> int:
    request = AccountSet(
        args.password_stdin, args.server, args.plaintext, args.label, args.pin_certificate
    )
    return account_set(options, request, console)


def _run_show(options: ProfileOptions, args: argparse.Namespace, console: Console) -> int:
    return account_show(options, args.json, console)


def account_set(options: ProfileOptions, args: AccountSet, console: Console) -> int:
    """Change the account and print it as `show` does.

    Raises:
        UsageError: nothing to change, no password on stdin, a bad server or label, plaintext
            for a non-loopback server (nothing is changed).
        CommandError, StoreError: no profile, or it cannot be opened.
    """
    from tui_omemo.service.account_setup import NoAccount, change_account

    change = _change(args, _pin(args.pin_certificate), console)
    with open_database(options, console) as database:
        try:
            info = change_account(database, change)
        except NoAccount as error:
            raise CommandError(str(error)) from None
        except ValueError as error:
            raise UsageError(str(error)) from None
    _print_lines(info, console)
    return 0


def _pin(text: str | None) -> str | None:
    """The pin `--pin-certificate` asks for ("" removes it), checked before anything opens.

    Raises:
        UsageError: not a SHA-256 fingerprint.
    """
    if not text:
        return text
    from tui_omemo.model import normalize_pin

    try:
        return normalize_pin(text)
    except ValueError as error:
        raise UsageError(f"--pin-certificate: {error}") from None


def account_show(options: ProfileOptions, as_json: bool, console: Console) -> int:
    """Print the account, this device and our other devices, as stored.

    Raises:
        CommandError, StoreError: no profile or no account, or it cannot be opened.
    """
    from tui_omemo.service.account_setup import account_info_of

    with open_database(options, console) as database:
        try:
            info = account_info_of(database)
        except ValueError as error:
            raise CommandError(f"{error} ({database.directory})") from None
    if as_json:
        console.out(schema.dump("account", account_object(info)))
    else:
        _print_lines(info, console)
    return 0


def account_object(info: AccountInfo) -> dict[str, object]:
    """The fields of the `account` object of JSON schema 1 (`account show --json`); our other
    devices are `device` objects."""
    from tui_omemo.commands.trust import device_object

    return {
        "jid": info.jid,
        "device": info.device_id,
        "fingerprint": info.fingerprint,
        "label": info.label,
        "server": info.server or None,
        "allow_plaintext_loopback": info.allow_plaintext_loopback,
        "password_stored": info.has_password,
        "certificate_pin": info.certificate_pin,
        "other_devices": [
            {"schema": schema.VERSION, "type": "device", **device_object(device)}
            for device in info.other_devices
        ],
    }


def _change(args: AccountSet, pin: str | None, console: Console) -> AccountChange:
    """The change `args` asks for (`pin`: the checked `--pin-certificate`).

    Raises:
        UsageError: nothing to change, or `--password-stdin` with nothing on stdin.
    """
    from tui_omemo.service.api import AccountChange

    password = _read_password(console) if args.password_stdin else None
    change = AccountChange(password, args.server, args.allow_plaintext_loopback, args.label, pin)
    if change == AccountChange():
        raise UsageError(NOTHING_TO_CHANGE)
    return change


def _read_password(console: Console) -> str:
    line = console.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not line:
        raise UsageError("--password-stdin: no password on standard input")
    return line


def _print_lines(info: AccountInfo, console: Console) -> None:
    from tui_omemo.commands.output import clean_text

    console.out(f"account: {info.jid}")
    console.out(f"device: {info.device_id}")
    console.out(f"fingerprint: {info.fingerprint}")
    console.out(f"label: {clean_text(info.label) if info.label else '-'}")
    console.out(f"server: {info.server or DOMAIN}")
    console.out(f"plaintext to loopback: {'allowed' if info.allow_plaintext_loopback else 'no'}")
    console.out(f"password: {'stored' if info.has_password else 'not stored'}")
    console.out(f"certificate pin: {info.certificate_pin or 'none'}")
    for device in info.other_devices:
        label = f" {clean_text(device.label)}" if device.label else ""
        where = "active" if device.active else "inactive"
        console.out(
            f"other device: {device.device_id}{label} ({where}) "
            f"{device.fingerprint or 'fingerprint unknown'}"
        )
