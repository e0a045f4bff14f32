"""`TrustScreen`: the device trust manager — own devices first, then every contact's.

Keys act on the highlighted device: v verify, b trust blindly, d distrust, u undecided, r rebuild
the session. The BTBV switch writes the `trust_mode` setting. Decisions go to the service in
workers, then the table reloads.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Footer, Static, Switch

from tui_omemo.model import TrustLevel
from tui_omemo.service.api import ChatService, SecurityEventRaised, ServiceEvent
from tui_omemo.ui.clock import Clock
from tui_omemo.ui.screens.base import ServiceScreen
from tui_omemo.ui.widgets.device_table import TRUST_WORDS, DeviceTable

BTBV_SENTENCE = (
    "Blind Trust Before Verification: a contact's new devices get your messages until you "
    "verify or distrust one of that contact's devices; off, only verified devices get them."
)


class TrustScreen(ServiceScreen):
    """Every known device and its trust."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("v", "decide('verified')", "Verify"),
        Binding("b", "decide('blindly_trusted')", "Blind"),
        Binding("d", "decide('distrusted')", "Distrust"),
        Binding("u", "decide('undecided')", "Undecided"),
        Binding("r", "rebuild", "Rebuild session"),
    ]

    def __init__(self, service: ChatService, clock: Clock, *, focus_jid: str | None = None) -> None:
        super().__init__()
        self._service = service
        self._clock = clock
        self._focus_jid = focus_jid

    def compose(self) -> ComposeResult:
        yield Static("Device trust", classes="title")
        with Horizontal(id="btbv-row"):
            yield Switch(id="btbv")
            yield Static(BTBV_SENTENCE, id="btbv-help")
        yield DeviceTable(self._clock, id="devices")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DeviceTable).focus()
        self.reload()

    @work(exit_on_error=False, group="devices", exclusive=True, description="load devices")
    async def reload(self) -> None:
        """Fetch devices and the trust mode again."""
        settings = await self._service.settings()
        switch = self.query_one(Switch)
        with switch.prevent(Switch.Changed):
            switch.value = str(settings.trust_mode) == "btbv"
        table = self.query_one(DeviceTable)
        devices = await self._service.devices()
        table.set_devices(devices)
        if self._focus_jid is not None:
            rows = [i for i, d in enumerate(table.ordered) if d.bare_jid == self._focus_jid]
            if rows:
                table.move_cursor(row=rows[0])
            self._focus_jid = None

    def service_event(self, event: ServiceEvent) -> None:
        """A security event may mean a new device: reload."""
        if isinstance(event, SecurityEventRaised):
            self.reload()

    def action_decide(self, level: str) -> None:
        """Record a trust decision for the highlighted device."""
        device = self.query_one(DeviceTable).current
        if device is not None:
            self._decide(device.bare_jid, device.device_id, TrustLevel(level))

    @work(exit_on_error=False, group="decide", description="set trust")
    async def _decide(self, bare_jid: str, device_id: int, level: TrustLevel) -> None:
        await self._service.set_trust(bare_jid, device_id, level)
        self.notify(f"{bare_jid} device {device_id}: {TRUST_WORDS[level]}", markup=False)
        self.reload()

    def action_rebuild(self) -> None:
        """Build a fresh session with the highlighted device."""
        device = self.query_one(DeviceTable).current
        if device is not None and not device.this_device:
            self._rebuild(device.bare_jid, device.device_id)

    @work(exit_on_error=False, group="decide", description="rebuild session")
    async def _rebuild(self, bare_jid: str, device_id: int) -> None:
        await self._service.rebuild_session(bare_jid, device_id)
        self.notify(f"Fresh session with {bare_jid} device {device_id}", markup=False)

    @on(Switch.Changed, "#btbv")
    def _btbv(self, event: Switch.Changed) -> None:
        self._set_mode("btbv" if event.value else "manual")

    @work(exit_on_error=False, group="settings", exclusive=True, description="trust mode")
    async def _set_mode(self, mode: str) -> None:
        try:
            await self._service.update_setting("trust_mode", mode)
        except ValueError as error:
            self.notify(str(error), severity="error", markup=False)
        self.reload()
