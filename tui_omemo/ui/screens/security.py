"""`SecurityScreen`: the security events timeline, newest first, live.

Each event is one entry: when it happened, what, whose device (its full id), and beneath it the
whole detail, wrapped to the width of the terminal. Enter on an event opens the trust manager
at that contact's devices.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import OptionList, Static

from tui_omemo.events import SecurityEvent
from tui_omemo.service.api import ChatService, SecurityEventRaised, ServiceEvent
from tui_omemo.ui.clock import Clock
from tui_omemo.ui.screens.base import ServiceScreen
from tui_omemo.ui.screens.chat import ChatScreen
from tui_omemo.ui.text import neutral
from tui_omemo.ui.widgets.key_footer import KeyFooter

KIND_WORDS = {
    "new_device": "new device",
    "identity_key_changed": "KEY CHANGED",
    "device_trusted_blindly": "trusted blindly",
    "trust_changed": "trust changed",
    "plaintext_in_encrypted_chat": "plaintext",
    "decryption_failed": "not decrypted",
    "trust_mode_changed": "trust mode",
    "device_removed": "device removed",
    "forged_correction": "forged edit",
    "forged_acknowledgement": "forged receipt",
}

KIND_STYLES = {
    "identity_key_changed": "bold red",
    "plaintext_in_encrypted_chat": "bold red",
    "decryption_failed": "red",
    "forged_correction": "bold red",
    "new_device": "bold yellow",
    "device_removed": "yellow",
    "forged_acknowledgement": "red",
}
"""Kinds that want attention, in colour (the words say the same without it)."""


def event_text(event: SecurityEvent, clock: Clock) -> Text:
    """One entry: time, kind, whose device; the whole detail on the lines beneath."""
    kind = event.kind.value
    moment = event.occurred_at or clock.now()
    text = Text(no_wrap=False)
    text.append(f"{clock.full(moment)}  ", "dim")
    text.append(f"{KIND_WORDS.get(kind, kind):<16}", KIND_STYLES.get(kind, "bold"))
    text.append(f"  {neutral(event.bare_jid, single_line=True)}")
    if event.device_id is not None:
        text.append(f"  device {event.device_id}")
    text.append(f"\n  {neutral(event.detail, single_line=True)}")
    return text


class SecurityScreen(ServiceScreen):
    """New devices, trust changes, plaintext where encryption was expected, failures."""

    def __init__(self, service: ChatService, clock: Clock) -> None:
        super().__init__()
        self._service = service
        self._clock = clock
        self._events: list[SecurityEvent] = []

    def compose(self) -> ComposeResult:
        yield Static("Security events", classes="title")
        yield Static("Enter on an event opens that contact's devices.", classes="hint")
        yield OptionList(id="events")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#events", OptionList).focus()
        self._load()

    @work(exit_on_error=False, group="security", exclusive=True, description="security events")
    async def _load(self) -> None:
        self.show_events(await self._service.security_events())

    def show_events(self, events: Sequence[SecurityEvent]) -> None:
        """Replace the entries (newest first)."""
        self._events = list(events)
        listing = self.query_one("#events", OptionList)
        highlighted = listing.highlighted
        listing.clear_options()
        listing.add_options(event_text(event, self._clock) for event in self._events)
        if self._events:
            listing.highlighted = min(highlighted or 0, len(self._events) - 1)

    @on(OptionList.OptionSelected, "#events")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        chosen = self._events[event.option_index]
        self.post_message(ChatScreen.TrustReviewRequested(chosen.bare_jid))

    def service_event(self, event: ServiceEvent) -> None:
        """A new security event goes on top, stamped with the time it arrived."""
        if isinstance(event, SecurityEventRaised):
            arrived = event.event
            if arrived.occurred_at is None:
                arrived = dataclasses.replace(arrived, occurred_at=self._clock.now())
            self.show_events([arrived, *self._events])
