"""`SecurityScreen`: the security events timeline, newest first, live.

Enter on an event opens the trust manager at that contact's devices.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from tui_omemo.events import SecurityEvent
from tui_omemo.service.api import ChatService, SecurityEventRaised, ServiceEvent
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
}


class SecurityScreen(ServiceScreen):
    """New devices, trust changes, plaintext where encryption was expected, failures."""

    def __init__(self, service: ChatService) -> None:
        super().__init__()
        self._service = service
        self._events: list[SecurityEvent] = []

    def compose(self) -> ComposeResult:
        yield Static("Security events", classes="title")
        yield DataTable(id="events", cursor_type="row", zebra_stripes=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        table: DataTable[Text] = self.query_one("#events", DataTable)
        for label, width in (("What", 16), ("Who", 24), ("Device", 8), ("Detail", 46)):
            table.add_column(label, width=width)
        table.focus()
        self._load()

    @work(exit_on_error=False, group="security", exclusive=True, description="security events")
    async def _load(self) -> None:
        self.show_events(await self._service.security_events())

    def show_events(self, events: Sequence[SecurityEvent]) -> None:
        """Replace the rows (newest first)."""
        self._events = list(events)
        table: DataTable[Text] = self.query_one("#events", DataTable)
        table.clear()
        for event in self._events:
            table.add_row(
                Text(KIND_WORDS.get(event.kind.value, event.kind.value)),
                Text(neutral(event.bare_jid, single_line=True)),
                Text("" if event.device_id is None else str(event.device_id)),
                Text(neutral(event.detail, single_line=True)),
            )

    @on(DataTable.RowSelected, "#events")
    def _chosen(self, event: DataTable.RowSelected) -> None:
        chosen = self._events[event.cursor_row]
        self.post_message(ChatScreen.TrustReviewRequested(chosen.bare_jid))

    def service_event(self, event: ServiceEvent) -> None:
        """A new security event goes on top."""
        if isinstance(event, SecurityEventRaised):
            self.show_events([event.event, *self._events])
