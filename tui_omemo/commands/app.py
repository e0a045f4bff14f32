"""`tui-omemo` without a command, and `tui-omemo open JID`: the Textual app.

The app runs on the same event loop as the service (DESIGN.md §6) and starts before the service
exists; what it shows first depends on the profile:

* no profile yet: the first-run form. `Startup.setup` creates the profile the way
  `account add` does (a key in the OS keyring when one is usable, else the passphrase typed
  twice in the form, or the one in the environment or a file) and the account with this
  device's OMEMO keys; then `Startup.connect` logs in and publishes the keys.
* a passphrase profile and no passphrase in the environment or a file: the passphrase prompt.
  `Startup.unlock` opens the profile with the passphrase (a wrong one changes nothing on disk
  and the prompt asks again) and keeps it open; then `Startup.connect` runs.
* otherwise: `Startup.connect` at once, behind the app's progress screen.

A failed login says in words what failed (`login_failure`), and the app offers the account
screen over `ProfileAccount` (the profile, opened for each read or change, no service): a
wrong or changed password, a moved server, the plaintext switch are fixed there, keeping keys,
trust and history, and the login is tried again. A refused server certificate comes with its
fingerprint (`CertificateRefused`), which the account screen shows and pins only when the user
asks for it.

The profile is opened once per connection attempt, always in a worker thread: the key
derivation takes a noticeable fraction of a second and must not freeze the screen.
`Startup.connect` hands the open database to `runtime.online`, entered on an exit stack that is
closed when the app ends, so the service, the connection and the database are closed on the
way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import gc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tui_omemo.commands import frontends
from tui_omemo.commands.account import (
    AccountAdd,
    account_from,
    check_jid,
    create_account,
    parse_server,
)
from tui_omemo.commands.console import CommandError, Console, UsageError
from tui_omemo.commands.profile import ProfileOptions, open_database, profile_dir, read_passphrase
from tui_omemo.commands.runtime import online
from tui_omemo.service.account import ProfileAccount, is_loopback
from tui_omemo.service.account_setup import correct_account, stored_account
from tui_omemo.service.api import CertificateRefused, RefusedCertificate
from tui_omemo.service.profiles import (
    Account,
    Database,
    asks_passphrase,
    keyring_usable,
    profile_exists,
)
from tui_omemo.xmpp.errors import (
    AuthenticationFailed,
    CertificateNotTrusted,
    ConnectionFailed,
    InsecureConnectionRefused,
    TransportError,
)

if TYPE_CHECKING:
    from tui_omemo.service.api import ChatService
    from tui_omemo.service.api_files import FileShare
    from tui_omemo.ui.app import TuiOmemoApp
    from tui_omemo.ui.screens.account import NewAccount


EXIT_NO_KEY = 2
"""`open_database`'s exit status when no key can be had for the profile."""

KEYRING_REFUSED = "The OS keyring did not keep the database key: choose a passphrase instead."


class FirstScreen(enum.Enum):
    """What the app asks before it can go online."""

    SETUP = "setup"
    UNLOCK = "unlock"
    CONNECT = "connect"


def open_app(options: ProfileOptions, jid: str | None, console: Console) -> int:
    """Run the terminal app, with the chat with `jid` open when given.

    Raises:
        UsageError: not on a terminal, or a bad JID.
        StoreError: the profile's marker file is unreadable.
    """
    peer = None if jid is None else check_jid(jid)
    if not (console.stdin.isatty() and console.stdout.isatty()):
        raise UsageError("the terminal app needs a terminal; use the commands in scripts")
    asyncio.run(_run(options, peer, console))
    return 0


def first_screen(options: ProfileOptions, console: Console) -> FirstScreen:
    """Whether the profile must be created, unlocked with a typed passphrase, or can just open.

    Raises:
        UsageError: the passphrase file cannot be read.
        StoreError: the profile's marker file is unreadable.
    """
    directory = profile_dir(options, console)
    if not profile_exists(directory):
        return FirstScreen.SETUP
    if read_passphrase(options, console) is None and asks_passphrase(directory, console.keyring()):
        return FirstScreen.UNLOCK
    return FirstScreen.CONNECT


def connects_to_loopback(jid: str, server: str | None) -> bool:
    """Whether an account typed into the first-run form would connect to this machine only."""
    try:
        host = parse_server(server).host if server else check_jid(jid).partition("@")[2]
    except UsageError:
        return False
    return is_loopback(host)


@dataclass
class Startup:
    """The callbacks the app calls before the roster shows, and what they opened.

    Attributes:
        options: the profile options; a passphrase typed in the app is added to them.
        console: streams, environment and keyring of this run.
        peer: the chat `tui-omemo open JID` asked for (its devices are fetched first).
        stack: holds the running service; closed when the app has ended.
        database: the profile `unlock` opened, until `connect` hands it to the service.
    """

    options: ProfileOptions
    console: Console
    peer: str | None = None
    stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    database: Database | None = None
    files: FileShare | None = None
    """Encrypted file sharing, once `connect` is online (issue 18)."""

    def ask_passphrase(self) -> bool:
        """Whether a new profile needs a typed passphrase (none given, no usable keyring)."""
        return read_passphrase(self.options, self.console) is None and not keyring_usable(
            self.console.keyring()
        )

    async def unlock(self, passphrase: str) -> None:
        """Open the profile with `passphrase` (off the event loop: the key derivation is slow)
        and keep it open for `connect`.

        Raises:
            StoreError: wrong passphrase, locked profile …, with the store's one-line message.
            UsageError: the passphrase is unusable.
        """
        typed = replace(self.options, typed_passphrase=passphrase)
        self._close_database()
        self.database = await asyncio.to_thread(open_database, typed, self.console)
        self.options = typed

    async def setup(self, new: NewAccount) -> None:
        """Create the profile and the account typed into the first-run form.

        A second submission in the same run (the first could not log in) corrects the account
        of the profile it created, if the JID is the same.

        Raises:
            UsageError: a bad JID or server, or plaintext for a non-loopback server.
            PassphraseWanted: the OS keyring kept no key; the form must ask for a passphrase.
            CommandError, StoreError: the profile could not be created.
        """
        from tui_omemo.ui.app import PassphraseWanted

        args = AccountAdd(new.jid, new.server, False, new.allow_plaintext_loopback)
        account = account_from(args, new.password)
        options = self.options
        if new.passphrase is not None:
            options = replace(options, typed_passphrase=new.passphrase)
        try:
            await asyncio.to_thread(_create_profile, options, self.console, account)
        except CommandError as error:
            if not _no_key(error) or new.passphrase is not None:
                raise
            raise PassphraseWanted(KEYRING_REFUSED) from error
        self.options = options

    async def connect(self, report: Callable[[str], None]) -> ChatService:
        """Log in, publish our keys and catch up; the service stays up until `close`.

        Raises:
            CommandError, StoreError, TransportError: as `runtime.online` raises them.
        """
        report("Logging in, publishing this device's keys, catching up")
        if self.database is None:
            self.database = await asyncio.to_thread(open_database, self.options, self.console)
        database, self.database = self.database, None  # online() closes it, also on failure
        running = await self.stack.enter_async_context(
            online(self.options, self.console, database=database)
        )
        await self.stack.enter_async_context(frontends.serving(running))
        if self.peer is not None:  # the chat opens with the contact's current devices
            report(f"Fetching the devices of {self.peer}")
            # Best effort: the chat opens anyway and sending says what is wrong. Nothing may
            # fail here once the service runs, or a retry would find the profile locked.
            with contextlib.suppress(Exception):
                await running.service.refresh_device_list(self.peer)
        # Everything alive now (modules, service, store) stays alive: gc.freeze() takes it
        # out of the collector's sight, since full collections walking it blocked the event
        # loop for 100-180 ms in the UI benchmark.
        from tui_omemo.commands.file_sharing import file_sharing  # loads aiohttp: only now

        self.files = file_sharing(running)  # issue 18
        gc.freeze()
        return running.service

    async def connect_in_words(self, report: Callable[[str], None]) -> ChatService:
        """`connect` for the app: a failed login is a CommandError that says in words what
        failed (`login_failure`); a refused certificate whose fingerprint is known is a
        `CertificateRefused` (the same words, and the certificate the account screen shows).

        Raises:
            CommandError, CertificateRefused, StoreError: as `connect` raises them.
        """
        try:
            return await self.connect(report)
        except CertificateNotTrusted as error:
            if error.fingerprint is None:
                raise CommandError(login_failure(error)) from error
            seen = RefusedCertificate(error.domain, error.fingerprint, error.problem)
            raise CertificateRefused(login_failure(error), seen) from error
        except TransportError as error:
            raise CommandError(login_failure(error)) from error

    async def close(self) -> None:
        """Stop the service, log out and close the database (if `connect` got that far, or
        `unlock` opened it)."""
        self._close_database()
        await self.stack.aclose()

    def open_database(self) -> Database:
        """The profile, opened with the passphrase known by now (for the account screen while
        no service runs)."""
        return open_database(self.options, self.console)

    def _close_database(self) -> None:
        if self.database is not None:
            self.database.close()
            self.database = None


def build_app(startup: Startup) -> TuiOmemoApp:
    """The app for this profile, with the first screen its state calls for."""
    from tui_omemo.ui.alerts import Desktop
    from tui_omemo.ui.app import TuiOmemoApp
    from tui_omemo.ui.screens.account import AccountForm

    first = first_screen(startup.options, startup.console)
    form = AccountForm(startup.ask_passphrase(), connects_to_loopback)
    return TuiOmemoApp(
        connect=startup.connect_in_words,
        account_editor=ProfileAccount(startup.open_database),
        open_chat=startup.peer,
        unlock=startup.unlock if first is FirstScreen.UNLOCK else None,
        setup=startup.setup if first is FirstScreen.SETUP else None,
        account_form=form,
        on_ready=gc.freeze,
        welcome=welcome_text(startup.console.environ),
        files=lambda: startup.files,
        desktop=Desktop.from_environment(startup.console.environ),  # issue 17
    )


WELCOME_ENV = "TUI_OMEMO_WELCOME_FILE"
"""A text file whose content the app shows once at the start (the demo's narration)."""


def welcome_text(environ: Mapping[str, str]) -> str | None:
    """The welcome note named by `WELCOME_ENV`, or None (also when it cannot be read)."""
    name = environ.get(WELCOME_ENV)
    if not name:
        return None
    try:
        return Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


async def _run(options: ProfileOptions, peer: str | None, console: Console) -> None:
    startup = Startup(options, console, peer)
    try:
        await build_app(startup).run_async()
    finally:
        await startup.close()


def login_failure(error: TransportError) -> str:
    """What failed when logging in, in words a person can act on."""
    if isinstance(error, AuthenticationFailed):
        return f"Login failed: {error}. Is the password right (did it change on the server)?"
    if isinstance(error, ConnectionFailed):
        return f"Login failed: {error}. Is the server address right, and is the server up?"
    if isinstance(error, InsecureConnectionRefused):
        return f"Login failed: {error}."
    return f"Login failed: {str(error) or type(error).__name__}."


def _no_key(error: CommandError) -> bool:
    """Whether `open_database` said that no key can be had (for a new profile: the keyring
    kept none), as opposed to a usage error or another failure."""
    return type(error) is CommandError and error.exit_code == EXIT_NO_KEY


def _create_profile(options: ProfileOptions, console: Console, account: Account) -> None:
    """Create (or, after a failed login in this run, correct) the profile's account."""
    with open_database(options, console, create=True) as database:
        existing = stored_account(database)
        if existing is None or existing.jid != account.jid:
            create_account(database, account)
            return
        correct_account(database, account, existing.created_at)
