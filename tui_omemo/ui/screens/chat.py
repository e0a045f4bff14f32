"""`ChatScreen`: one conversation — header with badge, security banner, virtual log, composer.

Loading and sending run in workers; the log and composer only post messages. Before a send the
screen makes sure nothing surprises the user: undecided devices are announced by the banner, and
a contact without OMEMO gets plaintext only after an explicit choice in `PlaintextDialog`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import Static

from tui_omemo.model import Namespace, TrustLevel
from tui_omemo.service.api import (
    ChatMessage,
    ChatSecurity,
    ChatService,
    ChatStateChanged,
    ChatSummary,
    MessageDelivered,
    MessageReceived,
    MessageSent,
    RosterChanged,
    SendReport,
    ServiceEvent,
)
from tui_omemo.ui import drafts, file_actions
from tui_omemo.ui.clock import Clock
from tui_omemo.ui.dialogs.file_picker import FilePickerDialog
from tui_omemo.ui.dialogs.message_detail import DetailChoice, MessageDetailDialog
from tui_omemo.ui.dialogs.plaintext import PlaintextDialog
from tui_omemo.ui.screens.base import ServiceScreen
from tui_omemo.ui.slash import SlashError, is_command
from tui_omemo.ui.text import neutral, peer_text
from tui_omemo.ui.widgets.banner import SecurityBanner
from tui_omemo.ui.widgets.composer import Composer
from tui_omemo.ui.widgets.key_footer import KeyFooter
from tui_omemo.ui.widgets.message_log import MessageLog
from tui_omemo.ui.widgets.roster_list import BADGES
from tui_omemo.ui.widgets.typing_line import TypingLine

if TYPE_CHECKING:
    from tui_omemo.ui.app import TuiOmemoApp

FIRST_PAGE = 50
"""Messages loaded when a chat opens: more than a screenful, few enough to open at once."""

PAGE = 100
"""Messages per older history page."""

READ_DELAY = 0.5
"""Seconds to gather incoming messages before telling the service the chat was read."""

MAX_PAGES_TO_FIND = 50
"""How many pages a jump to a search hit may load before giving up."""


class ChatScreen(ServiceScreen):
    """A 1:1 chat."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+l", "focus_log", "Messages"),
        Binding("ctrl+n", "focus_composer", "Write", show=False),
        Binding("ctrl+t", "review_devices", "Devices"),
        Binding("ctrl+g", "pick_file", "Send a file", show=False),
        Binding("f9", "add_contact", "Add contact", key_display="F9"),
    ]

    @dataclass
    class TrustReviewRequested(Message):
        """The user wants to review the devices of `jid`."""

        jid: str

    @dataclass
    class ContactAdded(Message):
        """`jid`, written to from outside the roster, was added to it from the chat."""

        jid: str

    def __init__(
        self,
        service: ChatService,
        chat: ChatSummary,
        clock: Clock,
        *,
        focus_archive_id: int | None = None,
    ) -> None:
        super().__init__()
        self._service = service
        self._chat = chat
        self._clock = clock
        self._focus_archive_id = focus_archive_id
        self._undecided = 0
        self._read_pending = False
        self._versions: dict[int, tuple[Namespace, ...]] = {}
        """Per archive id of a message sent from this screen: the OMEMO versions it used."""
        self._resumed = False
        self._restored = ""
        """The draft put back into the composer on opening (not a keystroke: no "composing")."""
        self._typing_away = False
        """Characters reaching the screen go to the composer (see `on_key`)."""

    @property
    def peer(self) -> str:
        """The JID of the contact or room on screen."""
        return self._chat.jid

    def compose(self) -> ComposeResult:
        with Horizontal(id="chat-header", classes="title"):
            yield Static(self._title(), id="chat-title")
            yield Static(id="badge", markup=False)
        yield TypingLine(id="typing")
        yield SecurityBanner(id="banner")
        yield Static(
            self._add_offer(),
            id="add-offer",
            markup=False,
            classes="" if self._offers_adding() else "-hidden",
        )
        yield MessageLog(self._clock, group=self._chat.is_room, id="log")
        yield Static(id="transfer", markup=False, classes="-hidden")
        yield Composer(id="composer", last_own=self._last_own_text)
        yield KeyFooter()

    def post_message(self, message: Message) -> bool:
        """Skip the style refresh of the first `ScreenResume`: the screen and its widgets
        were styled as they mounted a moment before, and styling them all again was the
        longest step of opening a chat. Later resumes (after a dialog or another screen,
        perhaps with another theme) refresh as usual."""
        if isinstance(message, events.ScreenResume) and not self._resumed:
            self._resumed = True
            message.refresh_styles = False
        return super().post_message(message)

    def _title(self) -> Text:
        title = peer_text(self._chat.name or self._chat.jid, "bold", single_line=True)
        if self._chat.name and self._chat.name != self._chat.jid:  # not the address twice
            title.append(f"  {self._chat.jid}")
        return title

    def _offers_adding(self) -> bool:
        return not self._chat.in_roster and not self._chat.is_room

    def _add_offer(self) -> Text:
        name = neutral(self._chat.jid, single_line=True)
        return Text(
            f"{name} is not in your contacts: F9 adds them and asks to see their "
            "presence. You can write to them either way."
        )

    def _show_badge(self) -> None:
        badge = self.query_one("#badge", Static)
        badge.update(BADGES[self._chat.security])
        for security in ChatSecurity:
            badge.set_class(security is self._chat.security, f"-{security.value}")

    def on_mount(self) -> None:
        log = self.query_one(MessageLog)
        log.set_peer_name(self._chat.name)
        self._show_badge()
        composer = self.query_one(Composer)
        composer.focus()
        self._restored = drafts.draft(self.app, self.peer)
        if self._restored:
            composer.load_text(self._restored)
            composer.move_cursor(composer.document.end)
        self._load_newest()
        self.check_devices()
        self._tell_state(self._service.chat_active)

    def on_unmount(self) -> None:
        """The chat was left: inactive (the app's worker: this screen's are gone)."""
        self.app.run_worker(
            self._service.chat_inactive(self.peer), group="chat-state", exit_on_error=False
        )

    @on(Composer.Changed)
    def _typed(self, event: Composer.Changed) -> None:
        """A keystroke in a message (not a command): composing, paused later by itself. The
        text is kept as the chat's draft (not a correction being edited)."""
        text = event.text_area.text
        composer = self.query_one(Composer)
        if not composer.editing:
            drafts.keep(self.app, self.peer, text)
        if text == self._restored:
            self._restored = ""
            return
        if text.strip() and not is_command(text.strip()):
            self._tell_state(self._service.composing)

    def _tell_state(self, call: Callable[[str], Awaitable[None]]) -> None:
        """Our chat state to the service (which decides whether a stanza goes)."""
        self.run_worker(call(self.peer), group="chat-state", exit_on_error=False)

    def on_screen_resume(self) -> None:
        self.check_devices()

    # --- history --------------------------------------------------------------------------

    @work(exit_on_error=False, group="history", exclusive=True, description="load newest messages")
    async def _load_newest(self) -> None:
        log = self.query_one(MessageLog)
        page = await self._service.history(self.peer, None, FIRST_PAGE)
        log.set_history(page)
        await file_actions.show_saved(cast("TuiOmemoApp", self.app), log, page.messages)
        await self._service.mark_read(self.peer)
        target = self._focus_archive_id
        pages = 0
        while (
            target is not None and not log.select_archive_id(target) and pages < MAX_PAGES_TO_FIND
        ):
            if page.before is None:
                break
            page = await self._service.history(self.peer, page.before, PAGE)
            log.prepend(page)
            await file_actions.show_saved(cast("TuiOmemoApp", self.app), log, page.messages)
            pages += 1
        if target is not None:
            log.focus()

    @on(MessageLog.OlderWanted)
    def _older(self, event: MessageLog.OlderWanted) -> None:
        self._load_older(event.before)

    @work(
        exit_on_error=False,
        group="history-older",
        exclusive=True,
        description="load older messages",
    )
    async def _load_older(self, before: int) -> None:
        log = self.query_one(MessageLog)
        page = await self._service.history(self.peer, before, PAGE)
        log.prepend(page)
        await file_actions.show_saved(cast("TuiOmemoApp", self.app), log, page.messages)

    def service_event(self, event: ServiceEvent) -> None:
        """New messages of this chat, ours as soon as they are archived (`MessageSent`,
        pending), go into the log (and the server's confirmations of ours clear their pending
        mark); badge changes into the title. Events still arriving while
        the screen is taken down (its widgets already gone, e.g. as the app exits) are
        ignored."""
        if not self.query(MessageLog):
            return
        try:
            self._show_event(event)
        except NoMatches:
            return  # a widget already gone: the screen is being taken down

    def _show_event(self, event: ServiceEvent) -> None:
        if isinstance(event, ChatStateChanged) and event.chat == self.peer:
            self.query_one(TypingLine).show_state(event.state, event.nick)
        elif isinstance(event, MessageReceived | MessageSent) and event.message.peer == self.peer:
            self.query_one(MessageLog).append(event.message)
            if not event.message.outgoing:
                self.query_one(TypingLine).spoke(event.message.nick or "")
            if self.is_current and not event.message.outgoing and not self._read_pending:
                self._read_pending = True
                self.set_timer(READ_DELAY, self._mark_read)
        elif isinstance(event, MessageDelivered) and event.peer == self.peer:
            self.query_one(MessageLog).mark_delivered(event.archive_id, event.delivery)
        elif isinstance(event, RosterChanged) and event.chat.jid == self.peer:
            self._chat = replace(event.chat, in_roster=event.chat.in_roster or self._chat.in_roster)
            self.query_one("#chat-title", Static).update(self._title())
            self._show_badge()
            self.check_devices()

    @work(exit_on_error=False, group="mark-read", exclusive=True, description="mark read")
    async def _mark_read(self) -> None:
        self._read_pending = False
        await self._service.mark_read(self.peer)

    # --- devices and the banner -----------------------------------------------------------

    @work(exit_on_error=False, group="devices", exclusive=True, description="check devices")
    async def check_devices(self) -> None:
        """Count undecided active devices and set the banner."""
        banner = self.query_one(SecurityBanner)
        if self._chat.is_room:
            return
        name = self._chat.name or self.peer
        if self._chat.omemo is None and self._chat.security is ChatSecurity.PLAINTEXT_CHOSEN:
            banner.show_plaintext_chosen(name)
            return
        if self._needs_plaintext_choice():
            banner.show_no_omemo(name)
            return
        devices = await self._service.devices(self.peer)
        undecided = [d for d in devices if d.active and d.trust is TrustLevel.UNDECIDED]
        self._undecided = len(undecided)
        if undecided:
            banner.show_undecided(len(undecided), self._chat.name or self.peer)
        elif self._chat.security is ChatSecurity.NO_TRUSTED_DEVICE:
            banner.show_no_trusted_device(name)
        else:
            banner.clear()

    @on(SecurityBanner.ReviewRequested)
    def _review(self) -> None:
        self.post_message(self.TrustReviewRequested(self.peer))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """F9 (add contact) only while the contact is not in the roster."""
        if action == "add_contact":
            return self._offers_adding()
        return True

    @work(exit_on_error=False, group="add-contact", exclusive=True, description="add contact")
    async def action_add_contact(self) -> None:
        """Add the contact of this chat to the roster, with a presence subscription request."""
        if not self._offers_adding():
            return
        await self._service.add_contact(self.peer)
        self._chat = replace(self._chat, in_roster=True)
        self.query_one("#add-offer", Static).set_class(True, "-hidden")
        self.refresh_bindings()
        self.notify(
            f"Added {neutral(self.peer, single_line=True)} and asked to see their presence",
            markup=False,
        )
        self.post_message(self.ContactAdded(self.peer))

    def action_review_devices(self) -> None:
        """The trust manager, at this contact's devices."""
        self.post_message(self.TrustReviewRequested(self.peer))

    # --- sending --------------------------------------------------------------------------

    @on(Composer.Submitted)
    def _submitted(self, event: Composer.Submitted) -> None:
        if event.correction:
            self._correct(event.text)
            return
        if event.reply_to is not None:
            self._reply(event.text, event.reply_to)
            return
        if self._needs_plaintext_choice():
            self.app.push_screen(
                PlaintextDialog(self._chat.name or self.peer),
                lambda chosen: self._plaintext_answer(event.text, chosen),
            )
            return
        self._send(event.text, allow_plaintext=False)

    def _needs_plaintext_choice(self) -> bool:
        """A send would go unencrypted and the user has not chosen that for this chat yet.

        Once chosen, the service remembers it (the badge turns PLAINTEXT_CHOSEN) and later sends
        go with `allow_plaintext=False`, so that the service encrypts again as soon as the
        contact publishes OMEMO devices.
        """
        if self._chat.security is ChatSecurity.PLAINTEXT_CHOSEN:
            return False
        return self._chat.omemo is None or self._chat.security is ChatSecurity.NO_OMEMO

    def send_unencrypted(self, text: str) -> None:
        """Send `text` unencrypted (the /plaintext command, after its confirmation)."""
        self._send(text, allow_plaintext=True)

    def _plaintext_answer(self, text: str, chosen: bool | None) -> None:
        if chosen:
            self._chat = replace(self._chat, security=ChatSecurity.PLAINTEXT_CHOSEN)
            self._show_badge()
            self.check_devices()
            self._send(text, allow_plaintext=True)

    @work(exit_on_error=False, group="send", description="send message")
    async def _send(self, text: str, *, allow_plaintext: bool) -> None:
        try:
            report = await self._deliver(text, allow_plaintext=allow_plaintext)
        except Exception as error:  # the service's reason is meant for the user
            self._send_failed(text, error)
            return
        self._sent(text, report)

    @work(exit_on_error=False, group="send", description="correct the last message")
    async def _correct(self, text: str) -> None:
        """Send `text` as a correction of our last message (XEP-0308); the log shows it in
        place of that message when the service announces it."""
        try:
            report = await self._service.correct_last(self.peer, text)
        except Exception as error:  # the service's reason is meant for the user
            self._correct_failed(text, error)
            return
        self._corrected(text, report)

    def _correct_failed(self, _text: str, error: Exception) -> None:
        """The correction was not sent: say why (the composer keeps editing)."""
        self.notify(f"Not corrected: {error}", severity="error", markup=False)

    def _corrected(self, text: str, report: SendReport) -> None:
        self.query_one(Composer).end_edit()
        self._sent(text, report)

    @on(MessageLog.ReplyWanted)
    def _reply_wanted(self, event: MessageLog.ReplyWanted) -> None:
        """`r` on a message: the composer answers it (XEP-0461)."""
        self._begin_reply(event.message)

    def _begin_reply(self, message: ChatMessage) -> None:
        """The composer answers `message` (`r` in the log or in the message detail)."""
        label = self.query_one(MessageLog).quote(message)
        self.query_one(Composer).begin_reply(message.archive_id, label)

    @work(exit_on_error=False, group="send", description="reply to a message")
    async def _reply(self, text: str, archive_id: int) -> None:
        """Send `text` as a reply to the message `archive_id`."""
        try:
            report = await self._service.reply(self.peer, archive_id, text)
        except Exception as error:  # the service's reason is meant for the user
            self._reply_failed(text, archive_id, error)
            return
        self._replied(text, report)

    def _reply_failed(self, _text: str, _archive_id: int, error: Exception) -> None:
        """The reply was not sent: say why (the composer keeps the reply)."""
        self.notify(f"Not sent: {error}", severity="error", markup=False)

    def _replied(self, text: str, report: SendReport) -> None:
        self.query_one(Composer).end_reply()
        self._sent(text, report)

    def _last_own_text(self) -> str | None:
        """The text of our last encrypted message shown, which Up in an empty composer edits
        (the message the service's `correct_last` corrects); None when there is none or it
        is a file (a text would then be sent as its correction)."""
        for message in reversed(self.query_one(MessageLog).messages):
            if message.outgoing and message.omemo is not None:
                return message.body if message.file is None else None
        return None

    async def _deliver(self, text: str, *, allow_plaintext: bool) -> SendReport:
        """Hand `text` to the service (a room screen sends to the room instead)."""
        return await self._service.send(self.peer, text, allow_plaintext=allow_plaintext)

    def _send_failed(self, _text: str, error: Exception) -> None:
        """Nothing was sent: say why."""
        self.notify(f"Not sent: {error}", title="Send failed", severity="error", markup=False)

    def _sent(self, text: str, report: SendReport) -> None:
        """The message went out: clear the composer and list the devices that were skipped."""
        composer = self.query_one(Composer)
        composer.remember(text)
        composer.clear()
        self._tell_state(self._service.chat_active)
        if report.archive_id is not None and report.versions:
            self._versions[report.archive_id] = report.versions
        self._report_skipped(report)

    def _report_skipped(self, report: SendReport) -> None:
        if report.skipped:
            lines = [
                f"{neutral(s.bare_jid, single_line=True)} {s.device_id or ''}: "
                f"{neutral(s.reason, single_line=True)}"
                for s in report.skipped
            ]
            self.notify(
                "\n".join(lines),
                title=f"Not encrypted for {len(lines)} device(s)",
                severity="warning",
                markup=False,
            )

    @work(exit_on_error=False, group="files", description="pick a file to send")
    async def action_pick_file(self) -> None:
        """Choose a file in a directory tree and send it encrypted, as `/file PATH` does."""
        path = await self.app.push_screen_wait(FilePickerDialog())
        if path is None:
            return
        try:
            await file_actions.send_file(cast("TuiOmemoApp", self.app), self.peer, str(path))
        except SlashError as error:
            self.notify(str(error), severity="error", markup=False)

    # --- message details ------------------------------------------------------------------

    @on(MessageLog.FileWanted)
    def _file_wanted(self, event: MessageLog.FileWanted) -> None:
        """Download the file of a message (issue 18), in a worker."""
        app = cast("TuiOmemoApp", self.app)
        log = self.query_one(MessageLog)
        self.run_worker(
            file_actions.download(app, log, event.message),
            group="files",
            description="download a file",
            exit_on_error=False,
        )

    @on(MessageLog.MessageChosen)
    def _chosen(self, event: MessageLog.MessageChosen) -> None:
        self._show_detail(event.message)

    @work(exit_on_error=False, group="detail", exclusive=True, description="message details")
    async def _show_detail(self, message: ChatMessage) -> None:
        sender = self._service.own_jid if message.outgoing else message.sender
        devices = await self._service.devices(sender)
        device = next((d for d in devices if d.device_id == message.sender_device_id), None)
        versions = self._versions.get(message.archive_id, ())
        saved = await file_actions.saved(cast("TuiOmemoApp", self.app), message)
        texts = await self._service.message_versions(message.archive_id) if message.edited else []
        dialog = MessageDetailDialog(
            message, device, self._clock, versions=versions, saved=saved, texts=tuple(texts)
        )
        choice = await self.app.push_screen_wait(dialog)
        if choice is DetailChoice.REBUILD_SESSION and message.sender_device_id is not None:
            await self._service.rebuild_session(sender, message.sender_device_id)
            self.notify("A fresh session was built and an empty message sent.")
        elif choice is DetailChoice.REFRESH_DEVICES:
            await self._service.refresh_device_list(sender)
            self.notify("The device list was fetched again.")
            self.check_devices()
        elif choice is DetailChoice.REPLY:
            self._begin_reply(message)

    def on_key(self, event: events.Key) -> None:
        """A character typed while the messages have the focus (as after a jump from search)
        goes to the composer, with the focus, instead of being lost; the log's own letter
        keys (`r` reply, `d` download) keep their meaning — but not in the middle of words:
        once typing went to the composer, every character still on its way to the log (typed
        fast, before the focus moved) follows, until the log is focused again."""
        log, composer = self.query_one(MessageLog), self.query_one(Composer)
        if not event.is_printable or event.character is None:
            return
        letters = {binding.key for binding in log.BINDINGS if isinstance(binding, Binding)}
        if not (self._typing_away or (self.focused is log and event.key not in letters)):
            return
        self._typing_away = True
        event.stop()
        event.prevent_default()
        composer.focus()
        composer.insert(event.character)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """The log (Ctrl+L, a click, a jump) or anything but the composer focused: letter
        keys are the focused widget's own again."""
        if not isinstance(event.widget, Composer):
            self._typing_away = False

    def action_focus_log(self) -> None:
        """Move to the message log (↑/↓ choose a message, Enter shows its details)."""
        self.query_one(MessageLog).focus()

    def action_focus_composer(self) -> None:
        """Move to the composer."""
        self.query_one(Composer).focus()
