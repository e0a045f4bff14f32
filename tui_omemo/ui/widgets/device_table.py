"""`DeviceTable`: devices with fingerprint, trust and activity, one row per device.

The parent hands down `DeviceInfo` values (`set_devices`) and reads `current` to act on the
highlighted device. The fingerprint takes two lines of four coloured groups; trust states and
activity are styled through component classes, so colours live in tcss.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.widgets import DataTable

from tui_omemo.model import TrustLevel
from tui_omemo.service.api import DeviceInfo
from tui_omemo.ui.clock import Clock
from tui_omemo.ui.text import neutral
from tui_omemo.ui.widgets.fingerprint import GROUP_CLASSES, fingerprint_text

TRUST_WORDS: dict[TrustLevel, str] = {
    TrustLevel.VERIFIED: "verified",
    TrustLevel.BLINDLY_TRUSTED: "blind",
    TrustLevel.UNDECIDED: "undecided",
    TrustLevel.DISTRUSTED: "distrusted",
}


class DeviceTable(DataTable[Text]):
    """The trust manager's table."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *GROUP_CLASSES,
        "device-table--jid",
        "device-table--own",
        "device-table--inactive",
        *(f"device-table--{level.value}" for level in TrustLevel),
    }

    def __init__(self, clock: Clock, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._clock = clock
        self._devices: list[DeviceInfo] = []

    def on_mount(self) -> None:
        for label, width in (
            ("Device", 19),
            ("Fingerprint", 35),
            ("Trust", 10),
            ("State", 8),
            ("Last seen", 10),
            ("OMEMO", 5),
        ):
            self.add_column(label, width=width, key=label)

    @property
    def current(self) -> DeviceInfo | None:
        """The highlighted device."""
        if not self._devices or not 0 <= self.cursor_row < len(self._devices):
            return None
        return self._devices[self.cursor_row]

    @property
    def ordered(self) -> Sequence[DeviceInfo]:
        """The devices in the order shown."""
        return self._devices

    def set_devices(self, devices: Sequence[DeviceInfo]) -> None:
        """Show `devices` (own first, then by contact), keeping the highlighted row."""
        row = self.cursor_row
        self._devices = sorted(devices, key=lambda d: (not d.own, d.bare_jid, d.device_id))
        self.clear()
        for device in self._devices:
            self.add_row(
                *self._cells(device), height=2, key=f"{device.bare_jid}/{device.device_id}"
            )
        if self._devices:
            self.move_cursor(row=min(row, len(self._devices) - 1))

    def _cells(self, device: DeviceInfo) -> list[Text]:
        style = self.get_component_rich_style
        who = Text(no_wrap=True, overflow="ellipsis")
        who.append(neutral(device.bare_jid, single_line=True), style("device-table--jid"))
        who.append(f"\n{device.device_id}")
        if device.label:
            who.append(f" {neutral(device.label, single_line=True)}")
        if device.this_device:
            who.append(" (this)", style("device-table--own"))
        prints = fingerprint_text(device.fingerprint, [style(c) for c in GROUP_CLASSES], per_line=4)
        trust = Text(TRUST_WORDS[device.trust], style(f"device-table--{device.trust.value}"))
        state = (
            Text("active") if device.active else Text("inactive", style("device-table--inactive"))
        )
        versions = Text(" ".join(ns.label for ns in device.namespaces))
        return [who, prints, trust, state, Text(self._seen(device.last_seen)), versions]

    def _seen(self, moment: datetime | None) -> str:
        return "never" if moment is None else self._clock.day(moment)
