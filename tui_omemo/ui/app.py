"""`TuiOmemoApp`: the Textual app, built on a `ChatService` handed in by the composition root.

How the composition root (`commands/app.py`) wires it:

* `TuiOmemoApp(service)` — the service is running: the roster shows at once.
* `TuiOmemoApp(service, open_chat="bob@example.org")` — the same, then that chat opens.
* `TuiOmemoApp(connect=callback)` — no service yet: a progress screen shows while
  `await callback(report)` logs in and starts the service it returns (`report(text)` names each
  step). A failure is shown with its one-line message and `r` tries again.
* `unlock=callback` — locked: a passphrase prompt comes first, and nothing else happens until
  `await callback(passphrase)` returns. It raises any exception with a one-line message for a
  wrong passphrase, which the prompt shows before asking again.
* `setup=callback` — first run: the add-account form (`account_form=` says whether it asks a
  new passphrase and when it offers plaintext on loopback) comes first and
  `await callback(NewAccount(...))` creates the profile and the account; the progress screen
  shows meanwhile. If that fails, the form comes back with the reason; once the profile exists,
  a failed login is shown like any other (below).
* `welcome=text` — a note shown once over the first screen (the demo's narration).
* `account_editor=editor` — reads and changes the account while no service runs: after a failed
  login the progress screen offers the account screen (`a`), which shows what failed and, once
  saved, logs in again. When the callback raised `CertificateRefused`, the account screen shows
  that certificate's fingerprint and offers to pin it (only on the user's confirmed act). Once
  connected, the account screen (F4, palette) uses the service.

One worker drains `service.events()` into `ServiceEventArrived` for the screens, toasts, alerts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import ClassVar

import rich
from rich.segment import Segments
from rich.traceback import Traceback
from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.driver import Driver
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker

from tui_omemo.events import SecurityEventKind
from tui_omemo.service.api import (
    AccountEditor,
    CertificateRefused,
    ChatService,
    ConnectionChanged,
    MessageReceived,
    Progress,
    RosterChanged,
    SecurityEventRaised,
    ServiceEvent,
)
from tui_omemo.service.api_files import FileShare
from tui_omemo.ui import file_actions
from tui_omemo.ui.alerts import Alerts, Desktop
from tui_omemo.ui.clock import Clock
from tui_omemo.ui.commands import ActionsProvider
from tui_omemo.ui.dialogs.add_contact import AddContactDialog
from tui_omemo.ui.dialogs.join_room import JoinRoomDialog
from tui_omemo.ui.dialogs.welcome import WelcomeDialog
from tui_omemo.ui.focus import TAB_FIRST, TabFirst
from tui_omemo.ui.paste import use_paste_safe_parser
from tui_omemo.ui.screens.account import AccountForm, AccountScreen, NewAccount
from tui_omemo.ui.screens.account_edit import AccountEditScreen
from tui_omemo.ui.screens.base import failure_words
from tui_omemo.ui.screens.chat import ChatScreen
from tui_omemo.ui.screens.group import GroupChatScreen
from tui_omemo.ui.screens.help import HelpScreen
from tui_omemo.ui.screens.progress import ProgressScreen
from tui_omemo.ui.screens.roster import RosterScreen
from tui_omemo.ui.screens.search import SearchScreen
from tui_omemo.ui.screens.security import SecurityScreen
from tui_omemo.ui.screens.settings import SettingsScreen
from tui_omemo.ui.screens.trust import TrustScreen
from tui_omemo.ui.screens.unlock import UnlockScreen
from tui_omemo.ui.screens.verify import VerifyScreen
from tui_omemo.ui.slash import SlashError, parse
from tui_omemo.ui.slash_run import run as run_command
from tui_omemo.ui.text import neutral
from tui_omemo.ui.widgets.composer import Composer

UnlockCallback = Callable[[str], Awaitable[None]]
"""Opens the profile with a typed passphrase; raises with a one-line message when it is wrong."""

SetupCallback = Callable[[NewAccount], Awaitable[None]]
"""Creates the account typed into the first-run form; raises with a one-line message on error
(`PassphraseWanted` when the form must ask for a passphrase after all)."""

Report = Callable[[str], None]
"""Names the step that begins now (shown on the progress screen)."""

ConnectCallback = Callable[[Report], Awaitable[ChatService]]
"""Logs in and starts the service; raises with a one-line message when that fails."""


OWN_ACTS = frozenset({SecurityEventKind.TRUST_CHANGED, SecurityEventKind.TRUST_MODE_CHANGED})
"""Security events the user's own act raised: the screen that did it says so once (no second
toast, no bell); they still go to the timeline."""


class PassphraseWanted(Exception):
    """Raised by the setup callback: no keyring kept the key, so the form asks a passphrase."""


def styles_dir() -> Path:
    """`styles/`: inside the package in a wheel, at the repository root in development."""
    package = Path(__file__).resolve().parent.parent
    shipped = package / "styles"
    return shipped if shipped.is_dir() else package.parent / "styles"


STYLE_FILES = (
    "base",
    "roster",
    "chat",
    "group",
    "trust",
    "verify",
    "search",
    "security",
    "settings",
    "unlock",
    "dialogs",
    "account",
)


class TuiOmemoApp(TabFirst):
    """The terminal chat client."""

    TITLE = "tui-omemo"
    CSS_PATH: ClassVar[list[str | PurePath]] = [
        styles_dir() / f"{name}.tcss" for name in STYLE_FILES
    ]
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {
        ActionsProvider,
        *App.COMMANDS,
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1,question_mark", "help", "Help", key_display="F1"),
        Binding("ctrl+t", "open_trust", "Trust"),
        Binding("ctrl+f", "open_search", "Search"),
        Binding("ctrl+o", "open_verify", "Our QR"),
        Binding("f2", "open_settings", "Settings", key_display="F2"),
        Binding("f3", "open_security", "Events", key_display="F3"),
        Binding("f4", "open_account", "Account", key_display="F4"),
        Binding("f5", "open_roster", "Roster", key_display="F5"),
        Binding("escape", "close_screen", "Back", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
        *TAB_FIRST,
    ]

    @dataclass
    class ServiceEventArrived(Message):
        """The events worker received `event` from the service."""

        event: ServiceEvent

        def can_replace(self, message: Message) -> bool:
            """A newer roster row for a chat replaces a queued older one (presence floods)."""
            return (
                isinstance(message, TuiOmemoApp.ServiceEventArrived)
                and isinstance(self.event, RosterChanged)
                and isinstance(message.event, RosterChanged)
                and message.event.chat.jid == self.event.chat.jid
            )

    def __init__(
        self,
        service: ChatService | None = None,
        *,
        connect: ConnectCallback | None = None,
        open_chat: str | None = None,
        unlock: UnlockCallback | None = None,
        setup: SetupCallback | None = None,
        account_form: AccountForm | None = None,
        account_editor: AccountEditor | None = None,
        clock: Clock | None = None,
        on_ready: Callable[[], None] | None = None,
        welcome: str | None = None,
        files: Callable[[], FileShare | None] | None = None,
        desktop: Desktop | None = None,
    ) -> None:
        super().__init__()
        self._files = files
        if service is None and connect is None:
            raise ValueError("TuiOmemoApp needs a service or a connect callback")
        self._service = service
        self._connect = connect
        self._on_ready = on_ready
        self.clock = clock or Clock()
        self._open_chat = open_chat
        self._unlock = unlock
        self._setup = setup
        self._account_form = account_form
        self._account_editor = account_editor
        self._started = False
        self._welcome = welcome
        self._alerts = Alerts(desktop, self)  # issue 17: desktop notifications, window title

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver, reading pastes with escape sequences in order (`ui.paste`)."""
        use_paste_safe_parser()
        return super().get_driver_class()

    @property
    def files(self) -> FileShare | None:
        """Encrypted file sharing, once connected (None without an upload path)."""
        return None if self._files is None else self._files()

    @property
    def service(self) -> ChatService:
        """The running service (only once connected: screens are built after that).

        Raises:
            RuntimeError: not connected yet.
        """
        if self._service is None:
            raise RuntimeError("the service is not running yet")
        return self._service

    def _fatal_error(self) -> None:
        """Textual's report of an unhandled exception, but without local variables.

        Textual shows locals: a key, password or message text would reach the terminal (§3.9).
        """
        self.bell()
        report = Traceback(show_locals=False, width=None, suppress=[rich])
        self._exit_renderables.append(Segments(self.console.render(report, self.console.options)))
        self._close_messages_no_wait()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Textual's system commands without "Screenshot": it would write the conversation
        on screen, decrypted, to an SVG file other users can read (DESIGN.md §3.13)."""
        return (
            command
            for command in super().get_system_commands(screen)
            if command.title != "Screenshot"
        )

    def on_mount(self) -> None:
        if self._setup is not None:
            self.push_screen(AccountScreen(self._account_form))
        elif self._unlock is not None:
            self.push_screen(UnlockScreen())
        else:
            self._go_online("Starting tui-omemo")

    def on_ready(self) -> None:
        """The first screen is on the terminal: run the host's `on_ready` hook."""
        if self._on_ready is not None:
            self._on_ready()

    def _start(self) -> None:
        """The profile is open: roster, event stream, and the chat asked for on the command line."""
        self._started = True
        self.push_screen(RosterScreen(self.service))
        self._drain_events()
        if self._open_chat:
            self.open_chat(self._open_chat)  # greets once the chat is open
        else:
            self._greet()

    def _greet(self) -> None:
        """The welcome note, once, over whatever shows first."""
        if self._welcome:
            self.push_screen(WelcomeDialog(self._welcome))
            self._welcome = None

    # --- locked and first-run flow ------------------------------------------------------

    @on(UnlockScreen.PassphraseEntered)
    async def _passphrase(self, event: UnlockScreen.PassphraseEntered) -> None:
        assert self._unlock is not None
        try:
            await self._unlock(event.passphrase)
        except Exception as error:  # the callback's message is meant for the user
            event.screen.show_error(str(error) or "The profile could not be opened.")
            return
        self.pop_screen()
        self._go_online("Opening the profile")

    @on(AccountScreen.AccountEntered)
    def _account(self, event: AccountScreen.AccountEntered) -> None:
        progress = self._progress(f"Setting up {event.account.jid}")
        self.push_screen(progress)
        self.run_worker(
            self._first_run(event.screen, progress, event.account),
            group="startup",
            exclusive=True,
            description="first run",
            exit_on_error=False,
        )

    async def _first_run(
        self, form: AccountScreen, progress: ProgressScreen, account: NewAccount
    ) -> None:
        """Create the profile and the account, then go online. When setting up fails, back to
        the form; once the profile exists, a failed login offers the account screen instead
        (the form cannot change an existing profile)."""
        assert self._setup is not None
        progress.step("Creating the profile and this device's OMEMO keys")
        try:
            await self._setup(account)
        except Exception as error:  # the callback's message is meant for the user
            self._back_to_form(form, error)
            return
        self.pop_screen()  # the progress screen
        self.pop_screen()  # the form
        if self._unlock is not None:
            self.push_screen(UnlockScreen())
        else:
            self._go_online(f"Logging in as {account.jid}")

    def _back_to_form(self, form: AccountScreen, error: Exception) -> None:
        if self.screen is not form:
            self.pop_screen()
        if isinstance(error, PassphraseWanted):
            form.ask_passphrase()
        form.show_error(str(error) or "The account could not be added.")

    def _go_online(self, title: str) -> None:
        """Start at once with a given service, else connect behind the progress screen."""
        if self._service is not None:
            self._start()
            return
        progress = self._progress(title)
        self.push_screen(progress)
        self.run_worker(
            self._online(progress),
            group="startup",
            exclusive=True,
            description="going online",
            exit_on_error=False,
        )

    async def _online(self, progress: ProgressScreen) -> None:
        try:
            await self._connecting(progress)
        except Exception as error:  # the callback's message is meant for the user
            refused = error.certificate if isinstance(error, CertificateRefused) else None
            progress.fail(str(error) or type(error).__name__, refused)
            return
        self.pop_screen()
        self._start()

    async def _connecting(self, progress: ProgressScreen) -> None:
        """Run the connect callback (once a service is running, never again)."""
        if self._service is None:
            assert self._connect is not None
            self._service = await self._connect(progress.step)

    def _progress(self, title: str) -> ProgressScreen:
        """A progress screen; a failure there offers the account screen when it can open."""
        return ProgressScreen(title, account=self._account_editor is not None)

    @on(ProgressScreen.RetryRequested)
    def _retry(
        self, event: ProgressScreen.RetryRequested | ProgressScreen.AccountRequested
    ) -> None:
        self.run_worker(
            self._online(event.screen),
            group="startup",
            exclusive=True,
            description="going online",
            exit_on_error=False,
        )

    @on(ProgressScreen.AccountRequested)
    def _fix_account(self, event: ProgressScreen.AccountRequested) -> None:
        """The account screen, with what failed; saved, it logs in again."""
        assert self._account_editor is not None

        def closed(saved: bool | None) -> None:
            if saved:
                self._retry(event)

        progress = event.screen
        screen = AccountEditScreen(self._account_editor, progress.reason, progress.certificate)
        self.push_screen(screen, closed)

    # --- background events ----------------------------------------------------------------

    @work(exit_on_error=False, group="events", exclusive=True, description="service events")
    async def _drain_events(self) -> None:
        """The one worker that turns `service.events()` into Textual messages."""
        async for event in self.service.events():
            self.post_message(self.ServiceEventArrived(event))
            await asyncio.sleep(0)  # a burst of events must not starve the screen

    @on(ServiceEventArrived)
    def _service_event(self, event: ServiceEventArrived) -> None:
        if not self.screen_stack:
            return  # the app is shutting down: no screen shows it, no alert is due
        for screen in self.screen_stack:
            handler = getattr(screen, "service_event", None)
            if callable(handler):
                handler(event.event)
        self._announce(event.event)
        self._alerts.seen(event.event, self.screen)
        file_actions.auto_download(self, event.event)  # issue 18: when the settings say so

    def _announce(self, event: ServiceEvent) -> None:
        """Toast and bell for what happens outside the chat on screen."""
        match event:
            case MessageReceived(message=message) if not message.outgoing and not message.corrects:
                top = self.screen
                if not (isinstance(top, ChatScreen) and top.peer == message.peer):
                    who = neutral(message.nick or message.sender, single_line=True)
                    self.notify(f"New message from {who}", title="Message", markup=False)
                    self.bell()
            case SecurityEventRaised(event=security) if security.kind not in OWN_ACTS:
                self.notify(
                    neutral(security.detail), title="Security", severity="warning", markup=False
                )
                self.bell()
            case ConnectionChanged(connected=connected, detail=detail):
                self.sub_title = "online" if connected else "offline"
                self.notify(
                    neutral(detail), severity="information" if connected else "error", markup=False
                )
            case Progress(task=task, done=done, total=total):
                self.sub_title = f"{neutral(task, single_line=True)} {done}/{total}"
                if done == total and done:  # a run's end; one that found nothing says nothing
                    self.notify(f"{neutral(task, single_line=True)}: {done} fetched", markup=False)
            case _:
                pass

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed app worker (events, navigation, roster) is shown, never fatal."""
        words = failure_words(event.worker)
        if words is not None:
            self.notify(words, title="Something failed", severity="error", markup=False)

    # --- navigation -----------------------------------------------------------------------

    @work(exit_on_error=False, group="navigation", description="open chat")
    async def open_chat(self, jid: str, archive_id: int | None = None) -> None:
        """Open the chat with `jid` (a room opens as a group chat), optionally at a message;
        a JID not in the roster opens too, and its chat offers adding the contact."""
        chats = {chat.jid: chat for chat in await self.service.chats()}
        chat = chats.get(jid)
        if chat is None:  # someone not in the roster: the chat opens all the same
            chat = await self.service.chat_summary(jid)
        while isinstance(self.screen, ChatScreen | SearchScreen):
            self.pop_screen()
        kind = GroupChatScreen if chat.is_room else ChatScreen
        self.push_screen(kind(self.service, chat, self.clock, focus_archive_id=archive_id))
        self._greet()

    @on(RosterScreen.ChatOpened)
    @on(SearchScreen.HitChosen)
    def _open(self, event: RosterScreen.ChatOpened | SearchScreen.HitChosen) -> None:
        self.open_chat(event.jid, getattr(event, "archive_id", None))

    @on(ChatScreen.ContactAdded)
    async def _contact_added(self) -> None:
        await self.refresh_roster()

    @on(ChatScreen.TrustReviewRequested)
    def _review(self, event: ChatScreen.TrustReviewRequested) -> None:
        self.push_screen(TrustScreen(self.service, self.clock, focus_jid=event.jid))

    def _show(self, screen: Screen[None]) -> None:
        """Push `screen` unless one of its kind is already on top."""
        if type(self.screen) is not type(screen):
            self.push_screen(screen)

    def action_open_roster(self) -> None:
        """Back to the roster, from however deep (screens and dialogs above it close)."""
        while len(self.screen_stack) > 2 and not isinstance(self.screen, RosterScreen):
            self.pop_screen()

    def action_open_trust(self) -> None:
        """The device trust manager."""
        if self._started:
            self._show(TrustScreen(self.service, self.clock))

    def action_open_verify(self) -> None:
        """Our QR code and trust URI; paste a contact's URI."""
        if self._started:
            self._show(VerifyScreen(self.service))

    def action_open_search(self) -> None:
        """Full-text search across chats."""
        if self._started:
            self._show(SearchScreen(self.service, self.clock))

    def action_open_security(self) -> None:
        """The security events timeline."""
        if self._started:
            self._show(SecurityScreen(self.service, self.clock))

    def action_open_settings(self) -> None:
        """The settings screen."""
        if self._started:
            self._show(SettingsScreen(self.service))

    def action_open_account(self) -> None:
        """This device, its label, the password and the server."""
        if self._started and not isinstance(self.screen, AccountEditScreen):
            self.push_screen(AccountEditScreen(self.service))

    def action_close_screen(self) -> None:
        """Close the keys panel if it is open, else the current screen (the roster stays;
        nothing closes before it shows)."""
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        elif self._started and len(self.screen_stack) > 2:
            self.pop_screen()

    def action_help(self) -> None:
        """The keys of the current screen, and the marks' legend (again: closes it)."""
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
        else:
            self.push_screen(HelpScreen(self.screen))

    def action_add_contact(self) -> None:
        """Ask for a JID and add it to the roster."""
        if self._started:
            self.push_screen(AddContactDialog(), self._add_contact)

    def action_join_room(self) -> None:
        """Ask for a room and a nick and join."""
        if self._started:
            localpart = self.service.own_jid.split("@", maxsplit=1)[0]
            self.push_screen(JoinRoomDialog(localpart), self._join_room)

    def add_contact_now(self, jid: str) -> None:
        """Add `jid` to the roster (the `/add` command)."""
        self._add_contact(jid)

    def join_room_now(self, room: str, nick: str) -> None:
        """Join `room` as `nick` (the `/join` command)."""
        self._join_room((room, nick))

    @on(Composer.CommandEntered)
    def _command(self, event: Composer.CommandEntered) -> None:
        self.run_worker(
            self._slash(event.composer, event.text),
            group="slash",
            description=f"command {event.text.split()[0]}",
            exit_on_error=False,
        )

    async def _slash(self, composer: Composer, text: str) -> None:
        """Run a slash command typed in a chat; a refused one is an error and stays typed."""
        try:
            await run_command(self, getattr(composer.screen, "peer", ""), parse(text))
        except SlashError as error:
            self.notify(str(error), title="Command", severity="error", markup=False)
            return
        composer.remember(text)
        composer.clear()

    def _add_contact(self, jid: str | None) -> None:
        if jid:
            self.run_worker(
                self._adding(jid), group="roster", description="add contact", exit_on_error=False
            )

    async def _adding(self, jid: str) -> None:
        await self.service.add_contact(jid)
        self.notify(f"Asked {jid} for a presence subscription", markup=False)
        await self.refresh_roster()

    def _join_room(self, choice: tuple[str, str] | None) -> None:
        if choice is not None:
            self.run_worker(
                self._joining(*choice), group="roster", description="join room", exit_on_error=False
            )

    async def _joining(self, room_jid: str, nick: str) -> None:
        try:
            room = await self.service.join_room(room_jid, nick)
        except Exception as error:  # the service's reason is meant for the user
            self.notify(str(error), title="Join failed", severity="error", markup=False)
            return
        if not room.omemo_allowed:
            reason = neutral(room.omemo_refusal or "the room does not allow it")
            self.notify(
                f"OMEMO is not possible in this room: {reason}", severity="warning", markup=False
            )
        await self.refresh_roster()
        if isinstance(self.screen, RosterScreen | ChatScreen):  # not while a dialog is up
            self.open_chat(room.jid)  # the room, not the roster (where a filter could hide it)

    async def refresh_roster(self) -> None:
        """Reload the roster screen (after a contact or room was added or removed)."""
        for screen in self.screen_stack:
            if isinstance(screen, RosterScreen):
                screen.reload()
