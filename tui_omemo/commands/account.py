"""`tui-omemo account add`: create a profile, its encrypted database and the OMEMO identity.

Works without the server: the account row and the new device's identity and prekeys are
written in one store transaction (`service.account_setup`), so an interrupted `account add`
leaves either nothing or a complete profile.
"""

from __future__ import annotations

import getpass
import time
from dataclasses import dataclass

from tui_omemo.commands.console import CommandError, Console, UsageError
from tui_omemo.commands.jids import check_jid as check_jid  # noqa: PLC0414 (re-exported)
from tui_omemo.commands.profile import ProfileOptions, open_database
from tui_omemo.model import normalize_pin
from tui_omemo.service import account as service_account
from tui_omemo.service import account_setup
from tui_omemo.service.account import Server, is_loopback
from tui_omemo.service.profiles import Account, Database


@dataclass(frozen=True, slots=True)
class AccountAdd:
    """The arguments of `account add`."""

    jid: str
    server: str | None
    password_stdin: bool
    allow_plaintext_loopback: bool
    pin_certificate: str | None = None


def parse_server(text: str) -> Server:
    """Parse `HOST`, `HOST:PORT` or `[IPv6]:PORT`.

    Raises:
        UsageError: an empty host or a port that is not 1 … 65535.
    """
    try:
        return service_account.parse_server(text)
    except ValueError as error:
        raise UsageError(f"--server: {error}") from None


def add_account(options: ProfileOptions, args: AccountAdd, console: Console) -> int:
    """Create the profile and the account; print the JID, device id and fingerprint.

    Raises:
        UsageError: bad JID or server, or plaintext asked for a non-loopback server.
        CommandError: the profile already holds an account.
        StoreError: the profile cannot be created or opened.
    """
    check_account(args)
    pin = _check_pin(args.pin_certificate)
    account = account_from(args, _read_password(args, console))
    with open_database(options, console, create=True) as database:
        created = create_account(database, account, certificate_pin=pin)
    console.out(f"account: {created.jid}")
    console.out(f"device: {created.device_id}")
    console.out(f"fingerprint: {created.fingerprint}")
    return 0


def check_account(args: AccountAdd) -> Server | None:
    """The server of `args` once the JID, the server and the plaintext choice are valid.

    Raises:
        UsageError: bad JID or server, or plaintext asked for a non-loopback server.
    """
    jid = check_jid(args.jid)
    server = parse_server(args.server) if args.server is not None else None
    host = server.host if server is not None else jid.partition("@")[2]
    if args.allow_plaintext_loopback and not is_loopback(host):
        raise UsageError(
            f"--allow-plaintext-loopback is only allowed for a loopback server, not {host}"
        )
    return server


def account_from(args: AccountAdd, password: str | None) -> Account:
    """The account row `account add` saves (the terminal app's first run saves the same).

    Raises:
        UsageError: as `check_account`.
    """
    server = check_account(args)
    return Account(
        jid=check_jid(args.jid),
        password=password,
        server_host=None if server is None else server.host,
        server_port=None if server is None else server.port,
        allow_plaintext_loopback=args.allow_plaintext_loopback,
        created_at=int(time.time() * 1000),
    )


def _check_pin(text: str | None) -> str | None:
    """The certificate pin in its stored form.

    Raises:
        UsageError: not a SHA-256 fingerprint.
    """
    if text is None:
        return None
    try:
        return normalize_pin(text)
    except ValueError as error:
        raise UsageError(f"--pin-certificate: {error}") from None


def create_account(
    database: Database, account: Account, *, certificate_pin: str | None = None
) -> account_setup.CreatedAccount:
    """Save `account` (and the certificate pin) and create the OMEMO identity, in one
    transaction.

    Raises:
        CommandError: the profile already holds an account (nothing is changed).
        StoreError, ProtocolError: the transaction failed (it is rolled back).
    """
    try:
        return account_setup.create_account(database, account, certificate_pin=certificate_pin)
    except account_setup.AccountExists as error:
        raise CommandError(f"{error}; use another --profile for another account") from None


def _read_password(args: AccountAdd, console: Console) -> str | None:
    """The account password: one line from stdin with `--password-stdin`, else asked for on
    a terminal.

    Raises:
        UsageError: `--password-stdin` with nothing on stdin; neither it nor a terminal (a
            profile without a password could never log in).
    """
    if not args.password_stdin:
        if console.stdin is not None and console.stdin.isatty():
            return getpass.getpass(f"password for {args.jid}: ") or None
        raise UsageError(
            "no terminal to ask for the password: pass --password-stdin and the "
            "password on the first line of standard input"
        )
    line = console.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not line:
        raise UsageError("--password-stdin: no password on standard input")
    return line
