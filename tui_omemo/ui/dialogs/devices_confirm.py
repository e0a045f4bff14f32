"""`DevicesConfirmDialog`: "do this to these devices?" — the preview before a trust manager
action that touches several devices at once (blind-trust or distrust every undecided device of
a contact, remove our stale devices from the device list).

It lists each device (id, label, fingerprint, last seen) and what will happen, in words.
Cancel is the default button, and Escape cancels. Labels are peer text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui_omemo.service.api import DeviceInfo
from tui_omemo.ui.clock import Clock
from tui_omemo.ui.text import neutral
from tui_omemo.ui.widgets.fingerprint import groups


class DevicesConfirmDialog(ModalScreen[bool]):
    """Asks before `confirm` is done to `devices`; dismisses with True only on confirm."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(False)", "Cancel")]

    def __init__(
        self,
        title: str,
        explanation: str,
        devices: Sequence[DeviceInfo],
        confirm: str,
        clock: Clock,
        *,
        warning: bool = False,
    ) -> None:
        super().__init__()
        self._title = title
        self._explanation = explanation
        self._devices = tuple(devices)
        self._confirm = confirm
        self._clock = clock
        self._warning = warning

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -warning" if self._warning else "dialog"):
            yield Static(self._title, classes="dialog-title", markup=False)
            yield Static(self._explanation, markup=False)
            with VerticalScroll(id="confirm-devices"):
                yield Static(self._listing(), id="device-listing")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button(self._confirm, id="confirm", variant="warning")

    def _listing(self) -> Text:
        lines = Text()
        for index, device in enumerate(self._devices):
            lines.append("\n" if index else "")
            lines.append(f"• {neutral(device.bare_jid, single_line=True)} ", "bold")
            lines.append(f"{device.device_id}")
            if device.label:
                lines.append(f" {neutral(device.label, single_line=True)}")
            seen = "never" if device.last_seen is None else self._clock.day(device.last_seen)
            lines.append(f", last seen {seen}\n  ")
            parts = groups(device.fingerprint)
            lines.append(" ".join(parts[:4]) or "identity key not known yet")
            lines.append(f"\n  {' '.join(parts[4:])}" if parts[4:] else "")
        return lines

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#confirm")
    def _confirmed(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(False)
