"""`VerifyDeviceDialog`: the compare step before one device is marked verified.

It shows the fingerprint the server gave us for the device, in the 8 groups of 8 hex digits
that Conversations, Dino and Gajim show, beside the instruction to read the same groups from
the contact's own device. "Verify" stays disabled until the user ticks that every group
matched; Escape and Cancel change nothing.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Static

from tui_omemo.service.api import DeviceInfo
from tui_omemo.ui.text import neutral
from tui_omemo.ui.widgets.fingerprint import groups

COMPARE_STEPS = (
    "On the contact's device, open its encryption keys (Conversations: contact details; "
    "Dino: the contact's Encryption page; Gajim: the contact's Encryption tab; tui-omemo: "
    "F4). Read the key of device {device_id} aloud or side by side: all 8 groups must be "
    "the same. If one differs, cancel and distrust the device."
)
"""The instruction beside the fingerprint; `{device_id}` is filled in."""


def compare_text(fingerprint: str) -> Text:
    """The fingerprint as 8 numbered groups in two lines of four, for reading aloud."""
    parts = groups(fingerprint)
    if not parts:
        return Text("identity key not known yet: fetch the device list again first")
    text = Text()
    for index, part in enumerate(parts):
        text.append("\n" if index and index % 4 == 0 else ("   " if index else ""))
        text.append(f"{index + 1}:", "dim")
        text.append(part, "bold")
    return text


class VerifyDeviceDialog(ModalScreen[bool]):
    """Returns True only when the user confirmed that the fingerprints match."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(False)", "Cancel")]

    def __init__(self, device: DeviceInfo) -> None:
        super().__init__()
        self._device = device

    def compose(self) -> ComposeResult:
        device = self._device
        who = neutral(device.bare_jid, single_line=True)
        label = f" ({neutral(device.label, single_line=True)})" if device.label else ""
        with Vertical(classes="dialog"):
            yield Static(
                f"Verify device {device.device_id}{label} of {who}?",
                classes="dialog-title",
                markup=False,
            )
            yield Static(COMPARE_STEPS.format(device_id=device.device_id), markup=False)
            yield Static("The key the server gave us for this device:", classes="hint")
            yield Static(compare_text(device.fingerprint), id="compare-fingerprint")
            yield Checkbox("All 8 groups match the contact's device", id="match")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button("Verify", id="verify", variant="success", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#match", Checkbox).focus()

    @on(Checkbox.Changed, "#match")
    def _matched(self, event: Checkbox.Changed) -> None:
        self.query_one("#verify", Button).disabled = not (
            event.value and bool(self._device.fingerprint)
        )

    @on(Button.Pressed, "#verify")
    def _verify(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(False)
