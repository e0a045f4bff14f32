"""`TrustScreen`: the device trust manager — own devices first, then every contact's.

Keys act on the highlighted device: v verify (after comparing the fingerprint in
`VerifyDeviceDialog`), b trust blindly, d distrust (after a confirmation), u undecided, r rebuild
the session; a decision the device already has is only reported. Shift+B / Shift+D blind-trust /
distrust every undecided device of the highlighted device's account, after a confirmation that
lists them. x previews our own stale devices and, once confirmed, removes them from our device
list. The BTBV switch writes the `trust_mode`
setting. Decisions go to the service in workers, then the table reloads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from functools import partial
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Static, Switch

from tui_omemo.model import TrustLevel
from tui_omemo.service.api import ChatService, DeviceInfo, SecurityEventRaised, ServiceEvent
from tui_omemo.ui.clock import Clock
from tui_omemo.ui.commands import PaletteAction
from tui_omemo.ui.dialogs.devices_confirm import DevicesConfirmDialog
from tui_omemo.ui.dialogs.verify_device import VerifyDeviceDialog
from tui_omemo.ui.screens.base import ServiceScreen
from tui_omemo.ui.text import neutral
from tui_omemo.ui.widgets.device_table import TRUST_WORDS, DeviceTable
from tui_omemo.ui.widgets.key_footer import KeyFooter
from tui_omemo.ui.widgets.switch_word import SwitchWord

BTBV_SENTENCE = (
    "Blind Trust Before Verification: a contact's new devices get your messages until you "
    "verify or distrust one of that contact's devices; in manual mode (off) only verified "
    "devices get them."
)

BTBV_POINTER = "Blind Trust Before Verification (BTBV); F2 Settings explains it."
"""Beside the trust manager's switch: the explanation itself is shown once, in Settings."""

BULK_WORDS: dict[TrustLevel, tuple[str, str]] = {
    TrustLevel.BLINDLY_TRUSTED: (
        "Trust blindly",
        "These devices will get your messages although nobody compared their fingerprints. "
        "You can verify or distrust each of them later.",
    ),
    TrustLevel.DISTRUSTED: (
        "Distrust",
        "These devices will no longer get your messages, and messages from them are marked "
        "untrusted. You can change each decision later.",
    ),
}
"""Per bulk decision: the button's word and what it means, in one or two sentences."""


class TrustScreen(ServiceScreen):
    """Every known device and its trust."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("v", "decide('verified')", "Verify"),
        Binding("b", "decide('blindly_trusted')", "Blind"),
        Binding("d", "decide('distrusted')", "Distrust"),
        Binding("u", "decide('undecided')", "Undecided", show=False),
        Binding("B", "decide_all('blindly_trusted')", "Blind new"),
        Binding("D", "decide_all('distrusted')", "Distrust new"),
        Binding("r", "rebuild", "Rebuild"),
        Binding("x", "remove_stale", "Stale"),
    ]

    PALETTE: ClassVar[tuple[PaletteAction, ...]] = (
        PaletteAction(
            "Verify device", "Mark the highlighted device verified", "decide('verified')"
        ),
        PaletteAction(
            "Trust device blindly",
            "Trust the highlighted device unverified",
            "decide('blindly_trusted')",
        ),
        PaletteAction(
            "Distrust device", "The highlighted device gets no keys", "decide('distrusted')"
        ),
        PaletteAction(
            "Undecided device",
            "Take back the decision on the highlighted device",
            "decide('undecided')",
        ),
        PaletteAction(
            "Blind-trust all undecided of this contact",
            "Every undecided device of the highlighted account, after confirming",
            "decide_all('blindly_trusted')",
        ),
        PaletteAction(
            "Distrust all undecided of this contact",
            "Every undecided device of the highlighted account, after confirming",
            "decide_all('distrusted')",
        ),
        PaletteAction("Rebuild session", "A fresh session with the highlighted device", "rebuild"),
        PaletteAction(
            "Remove stale own devices",
            "Preview, then remove them from our device list",
            "remove_stale",
        ),
    )
    """The trust manager's own entries of the command palette."""

    def __init__(self, service: ChatService, clock: Clock, *, focus_jid: str | None = None) -> None:
        super().__init__()
        self._service = service
        self._clock = clock
        self._focus_jid = focus_jid

    def compose(self) -> ComposeResult:
        yield Static("Device trust", classes="title")
        with Horizontal(id="btbv-row"):
            yield Switch(id="btbv")
            yield SwitchWord("btbv")
            yield Static(BTBV_POINTER, id="btbv-help")
        yield DeviceTable(self._clock, id="devices")
        yield KeyFooter()

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
        if self._focus_jid is not None:
            await table.set_devices(await self._service.devices())
            # Fetch the contact's lists now: no notification brings them while our
            # subscription request is pending (a list we may not read stays as it was).
            with contextlib.suppress(Exception):
                await self._service.refresh_device_list(self._focus_jid)
        await table.set_devices(await self._service.devices())
        if self._focus_jid is not None:
            rows = [i for i, d in enumerate(table.ordered) if d.bare_jid == self._focus_jid]
            if rows:
                table.move_cursor(row=rows[0])
            self._focus_jid = None

    def service_event(self, event: ServiceEvent) -> None:
        """A security event may mean a new device: reload."""
        if isinstance(event, SecurityEventRaised):
            self.reload()

    # --- one device ---------------------------------------------------------------------------

    def action_decide(self, level: str) -> None:
        """Record a trust decision for the highlighted device: verifying goes through the
        compare step, distrusting asks first, and a decision already made changes nothing."""
        device = self.query_one(DeviceTable).current
        if device is None or device.this_device:
            return
        decision = TrustLevel(level)
        if device.trust is decision:
            who = neutral(device.bare_jid, single_line=True)
            self.notify(
                f"{who} device {device.device_id} is already {TRUST_WORDS[decision]}.",
                markup=False,
            )
            return
        done = partial(self._decide_confirmed, [device], decision)
        if decision is TrustLevel.VERIFIED:
            self.app.push_screen(VerifyDeviceDialog(device), done)
        elif decision is TrustLevel.DISTRUSTED:
            who = neutral(device.bare_jid, single_line=True)
            word, meaning = BULK_WORDS[decision]
            title = f"{word} device {device.device_id} of {who}?"
            dialog = DevicesConfirmDialog(title, meaning, [device], word, self._clock)
            self.app.push_screen(dialog, done)
        else:
            self._decide([device], decision)

    @work(exit_on_error=False, group="decide", description="set trust")
    async def _decide(self, devices: Sequence[DeviceInfo], level: TrustLevel) -> None:
        for device in devices:
            await self._service.set_trust(device.bare_jid, device.device_id, level)
        first = devices[0]
        who = neutral(first.bare_jid, single_line=True)
        what = f"device {first.device_id}" if len(devices) == 1 else f"{len(devices)} devices"
        self.notify(f"{who} {what}: {TRUST_WORDS[level]}", markup=False)
        self.reload()

    def action_rebuild(self) -> None:
        """Build a fresh session with the highlighted device."""
        device = self.query_one(DeviceTable).current
        if device is not None and not device.this_device:
            self._rebuild(device.bare_jid, device.device_id)

    @work(exit_on_error=False, group="decide", description="rebuild session")
    async def _rebuild(self, bare_jid: str, device_id: int) -> None:
        await self._service.rebuild_session(bare_jid, device_id)
        who = neutral(bare_jid, single_line=True)
        self.notify(f"Fresh session with {who} device {device_id}", markup=False)

    # --- several devices ------------------------------------------------------------------------

    def action_decide_all(self, level: str) -> None:
        """Blind-trust or distrust every undecided device of the highlighted account, after
        confirming the list."""
        table = self.query_one(DeviceTable)
        current = table.current
        if current is None:
            return
        decision = TrustLevel(level)
        who = neutral(current.bare_jid, single_line=True)
        undecided = [
            d
            for d in table.ordered
            if d.bare_jid == current.bare_jid
            and d.trust is TrustLevel.UNDECIDED
            and not d.this_device
        ]
        if not undecided:
            self.notify(f"{who} has no undecided device.", markup=False)
            return
        word, meaning = BULK_WORDS[decision]
        dialog = DevicesConfirmDialog(
            f"{word}: {len(undecided)} undecided device(s) of {who}?",
            meaning,
            undecided,
            word,
            self._clock,
            warning=decision is TrustLevel.BLINDLY_TRUSTED,
        )
        self.app.push_screen(dialog, partial(self._decide_confirmed, undecided, decision))

    def _decide_confirmed(
        self, devices: Sequence[DeviceInfo], level: TrustLevel, confirmed: bool | None
    ) -> None:
        if confirmed:
            self._decide(devices, level)

    def action_remove_stale(self) -> None:
        """Preview our own stale devices, then remove them from our device list if confirmed."""
        self._preview_stale()

    @work(exit_on_error=False, group="stale", exclusive=True, description="find stale devices")
    async def _preview_stale(self) -> None:
        stale = list(await self._service.stale_own_devices())
        hours = (await self._service.settings()).delete_stale_after_hours
        if not stale:
            self.notify(f"None of your other devices has been silent for {hours} hours.")
            return
        dialog = DevicesConfirmDialog(
            f"Remove {len(stale)} stale device(s) of yours?",
            f"They sent nothing for more than {hours} hours. Removing them takes them off your "
            "published device lists, so nobody encrypts for them any more; a device that comes "
            "back adds itself again.",
            stale,
            "Remove from device list",
            self._clock,
        )
        ids = [device.device_id for device in stale]
        self.app.push_screen(dialog, partial(self._remove_confirmed, ids))

    def _remove_confirmed(self, device_ids: Sequence[int], confirmed: bool | None) -> None:
        if confirmed:
            self._remove(device_ids)

    @work(exit_on_error=False, group="stale", description="remove stale devices")
    async def _remove(self, device_ids: Sequence[int]) -> None:
        await self._service.remove_own_devices(device_ids)
        self.notify(f"Removed {len(device_ids)} device(s) from your device list.")
        self.reload()

    # --- BTBV -----------------------------------------------------------------------------------

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
