"""`RosterScreen`: contacts and rooms, filtered as you type; the app's home screen."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input, Static

from tui_omemo.service.api import ChatService, ConnectionChanged, RosterChanged, ServiceEvent
from tui_omemo.ui.dialogs.subscription import SubscriptionAnswer, SubscriptionDialog
from tui_omemo.ui.screens.base import ServiceScreen
from tui_omemo.ui.text import peer_text
from tui_omemo.ui.widgets.key_footer import KeyFooter
from tui_omemo.ui.widgets.roster_list import RosterList


class RosterScreen(ServiceScreen):
    """The roster with a filter box above it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "app.add_contact", "Add contact"),
        Binding("ctrl+g", "app.join_room", "Join room"),
        Binding("slash", "focus_filter", "Filter", show=False),
        Binding("down", "focus_list", "List", show=False),
    ]

    @dataclass
    class ChatOpened(Message):
        """The user chose the chat with `jid`."""

        jid: str

    def __init__(self, service: ChatService) -> None:
        super().__init__()
        self._service = service
        self._connected: bool | None = None
        """Connected (ConnectionChanged), or None before the first word of it."""
        self._presence = ("online", "")
        """Our show and status message as last read from the settings."""

    def compose(self) -> ComposeResult:
        yield Static(
            f"tui-omemo · {self._service.own_jid}", classes="title", markup=False, id="roster-title"
        )
        yield Input(
            placeholder="Filter contacts and rooms (type to filter, ↓ to the list)",
            id="filter",
            select_on_focus=False,
        )
        yield RosterList(id="roster")
        yield Static(
            "No contacts yet: Ctrl+N adds one, Ctrl+G joins a room.", id="empty", classes="-hidden"
        )
        yield KeyFooter()

    def on_mount(self) -> None:
        self.reload()
        self.read_presence()

    def on_screen_resume(self) -> None:
        """Back on the roster (from a chat's `/status`, say): our status may have changed."""
        self.read_presence()

    @work(exit_on_error=False, group="presence", exclusive=True, description="read status")
    async def read_presence(self) -> None:
        """Read our show and status message from the settings into the title."""
        settings = await self._service.settings()
        self._presence = (settings.show, settings.status_message)
        self._show_title()

    def _show_title(self) -> None:
        """ "tui-omemo · JID · STATE": offline, or our show and status message ("online"
        alone only once connected, as before any status was set); plain text, never markup."""
        show, text = self._presence
        if self._connected is False:
            state = "offline"
        elif text:
            state = f"{show}: {text}"
        elif self._connected or show != "online":
            state = show
        else:
            state = ""
        words = f"tui-omemo · {self._service.own_jid}" + (f" · {state}" if state else "")
        title = self.query_one("#roster-title", Static)
        title.update(peer_text(words, single_line=True))
        title.set_class(self._connected is False, "-offline")

    @work(exit_on_error=False, group="roster", exclusive=True, description="load roster")
    async def reload(self) -> None:
        """Fetch the roster from the service again."""
        chats = await self._service.chats()
        self.query_one(RosterList).set_chats(chats)
        self.query_one("#empty").set_class(bool(chats), "-hidden")

    def service_event(self, event: ServiceEvent) -> None:
        """Roster rows follow presence, unread and badge changes (not while the screen is
        taken down, as the app exits)."""
        if not self.query(RosterList):
            return
        if isinstance(event, RosterChanged):
            self.query_one(RosterList).update_chat(event.chat)
            self.query_one("#empty").set_class(True, "-hidden")
        elif isinstance(event, ConnectionChanged):
            self._connected = event.connected
            self._show_title()

    @on(Input.Changed, "#filter")
    def _filter(self, event: Input.Changed) -> None:
        self.query_one(RosterList).set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _open_first(self) -> None:
        roster = self.query_one(RosterList)
        if roster.highlighted_option is not None and roster.highlighted_option.id:
            self._open(roster.highlighted_option.id)

    @on(RosterList.ChatChosen)
    def _chosen(self, event: RosterList.ChatChosen) -> None:
        self._open(event.jid)

    def _open(self, jid: str) -> None:
        """Open the chat; a row asking to see our presence asks for the answer first."""
        if any(c.jid == jid and c.asks_subscription for c in self.query_one(RosterList).chats):
            self.app.push_screen(SubscriptionDialog(jid), partial(self._answer, jid))
            return
        self.post_message(self.ChatOpened(jid))

    def _answer(self, jid: str, answer: SubscriptionAnswer | None) -> None:
        if answer is not None:
            self._send_answer(jid, answer)

    @work(exit_on_error=False, group="subscription", description="answer subscription")
    async def _send_answer(self, jid: str, answer: SubscriptionAnswer) -> None:
        allow = answer is not SubscriptionAnswer.DENY
        await self._service.answer_subscription(
            jid, allow, answer is SubscriptionAnswer.ALLOW_AND_ADD
        )
        word = {"allow": "may see", "deny": "may not see", "add": "added; may see"}[answer.value]
        self.notify(f"{jid} {word} your presence", markup=False)

    def on_key(self, event: events.Key) -> None:
        """Typing while the list has focus goes on in the filter box (not / or ?, keys)."""
        roster = self.query_one(RosterList)
        keys = (None, "/", "?")
        if self.focused is roster and event.is_printable and event.character not in keys:
            event.stop()
            event.prevent_default()
            search = self.query_one("#filter", Input)
            search.focus()
            search.insert_text_at_cursor(event.character or "")

    def action_focus_list(self) -> None:
        """Move from the filter box into the list."""
        self.query_one(RosterList).focus()

    def action_focus_filter(self) -> None:
        """Put the cursor in the filter box."""
        self.query_one("#filter", Input).focus()
