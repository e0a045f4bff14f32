"""`RosterList`: contacts and rooms with presence, unread count and encryption badge.

Rows are built from `ChatSummary` values the screen hands down (`set_chats`); typing in the
screen's filter box calls `set_filter`. Choosing a row posts `ChatChosen`. Names and status texts
are peer text and go through `peer_text`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui_omemo.service.api import ChatSecurity, ChatSummary, Subscription
from tui_omemo.ui.text import neutral, peer_text

BADGES: dict[ChatSecurity, str] = {
    ChatSecurity.ALL_VERIFIED: "verified",
    ChatSecurity.SOME_BLIND: "blind trust",
    ChatSecurity.UNDECIDED_DEVICES: "new devices",
    ChatSecurity.NO_TRUSTED_DEVICE: "no trusted device",
    ChatSecurity.NO_OMEMO: "no OMEMO",
    ChatSecurity.PLAINTEXT_CHOSEN: "plaintext",
    ChatSecurity.ALONE: "only you here",
}
"""The encryption badge of a chat in words (roster and chat header)."""

SUBSCRIPTION_WORDS: dict[Subscription, str] = {
    Subscription.BOTH: "",
    Subscription.PENDING: "request pending",
    Subscription.NONE: "not subscribed",
    Subscription.TO: "one-way: you see them",
    Subscription.FROM: "one-way: they see you",
}
"""A contact's subscription state in words (a mutual one, the usual case, shows nothing)."""

ASKS_WORDS = "asks to see your presence (Enter)"
"""The mark of a contact waiting for an answer to its subscription request (issue 17)."""


class RosterList(OptionList):
    """The roster as a keyboard-driven list."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "roster-list--online",
        "roster-list--away",
        "roster-list--busy",
        "roster-list--xa",
        "roster-list--offline",
        "roster-list--asks",
        "roster-list--room",
        "roster-list--jid",
        "roster-list--status",
        "roster-list--subscription",
        "roster-list--unread",
        *(f"roster-list--{security.value}" for security in ChatSecurity),
    }

    @dataclass
    class ChatChosen(Message):
        """The user picked the chat with `jid` (Enter or click)."""

        jid: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._chats: list[ChatSummary] = []
        self._filter = ""

    @property
    def chats(self) -> Sequence[ChatSummary]:
        """Every chat, whether shown or filtered out."""
        return self._chats

    def set_chats(self, chats: Sequence[ChatSummary]) -> None:
        """Replace the rows (contacts first, then rooms, each by name)."""
        self._chats = sorted(chats, key=lambda c: (c.is_room, c.name.casefold(), c.jid))
        self._rebuild()

    def update_chat(self, chat: ChatSummary) -> None:
        """Replace or add one row."""
        others = [c for c in self._chats if c.jid != chat.jid]
        self.set_chats([*others, chat])

    def set_filter(self, text: str) -> None:
        """Show only chats whose name or JID contains `text` (case-insensitive)."""
        self._filter = text.strip().casefold()
        self._rebuild()

    def _rebuild(self) -> None:
        highlighted = self.highlighted_option.id if self.highlighted_option else None
        shown = [c for c in self._chats if self._matches(c)]
        self.set_options(Option(self._prompt(c), id=c.jid) for c in shown)
        ids = [c.jid for c in shown]
        if shown:
            self.highlighted = ids.index(highlighted) if highlighted in ids else 0

    def _matches(self, chat: ChatSummary) -> bool:
        return not self._filter or self._filter in f"{chat.name} {chat.jid}".casefold()

    def _prompt(self, chat: ChatSummary) -> Text:
        style = self.get_component_rich_style
        kind = "room" if chat.is_room else chat.presence.value
        row = Text(no_wrap=True, overflow="ellipsis")
        row.append("# " if chat.is_room else "● ", style(f"roster-list--{kind}"))
        row.append_text(peer_text(chat.name or chat.jid, single_line=True))
        if chat.name and chat.name != chat.jid:  # a name that is the address is not repeated
            row.append(f"  {chat.jid}", style("roster-list--jid"))
        if chat.subscription is not Subscription.BOTH:
            words = SUBSCRIPTION_WORDS[chat.subscription]
            row.append(f"  {words}", style("roster-list--subscription"))
        if chat.asks_subscription:
            row.append(f"  {ASKS_WORDS}", style("roster-list--asks"))
        if chat.unread:
            row.append(f"  {chat.unread} new", style("roster-list--unread"))
        row.append(f"  [{BADGES[chat.security]}]", style(f"roster-list--{chat.security.value}"))
        if chat.status_text:
            status = neutral(chat.status_text, single_line=True)
            row.append(f"  {status}", style("roster-list--status"))
        return row

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.ChatChosen(event.option.id))
