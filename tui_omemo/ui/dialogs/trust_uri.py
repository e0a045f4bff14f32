"""`TrustUriDialog`: what a pasted trust URI would verify, and the user's confirmation.

Each fingerprint of the URI is compared with the key the server gave us for the same device
(`check_uri`): one that matches is verified (or reported as already verified); one that differs
is a red warning naming the device and the groups that differ, and is never verified; an
unknown device is left alone. "Verify" stays disabled until the user ticks "I received this
through a trusted channel" (a URI is only as good as the way it reached us), and while nothing
would change.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Static

from tui_omemo.model import TrustLevel
from tui_omemo.service.api import DeviceInfo, UriPreview
from tui_omemo.ui.text import neutral
from tui_omemo.ui.widgets.device_table import TRUST_WORDS
from tui_omemo.ui.widgets.fingerprint import groups


class UriVerdict(enum.Enum):
    """What applying the URI does to one of its devices."""

    VERIFY = "will be verified"
    ALREADY = "already verified"
    DIFFERENT = "DIFFERENT KEY: will not be verified"
    UNKNOWN = "unknown device: will not be verified"


@dataclass(frozen=True, slots=True)
class UriCheck:
    """One fingerprint of the URI against the device's key as the server gave it to us.

    Attributes:
        device_id: the device the URI names.
        fingerprint: the URI's fingerprint.
        verdict: what applying does.
        differing: the 1-based numbers of the groups that differ (DIFFERENT only).
        current: the device's trust now, when the device is known.
    """

    device_id: int
    fingerprint: str
    verdict: UriVerdict
    differing: tuple[int, ...] = ()
    current: TrustLevel | None = None


def check_uri(preview: UriPreview, devices: Sequence[DeviceInfo]) -> list[UriCheck]:
    """Compare each fingerprint of `preview` with the same device of `devices` (its JID's)."""
    keys: Mapping[int, DeviceInfo] = {
        d.device_id: d for d in devices if d.bare_jid == preview.bare_jid and d.fingerprint
    }
    checks = []
    for item in preview.fingerprints:
        device = keys.get(item.device_id)
        if device is None:
            checks.append(UriCheck(item.device_id, item.fingerprint, UriVerdict.UNKNOWN))
            continue
        ours, theirs = groups(device.fingerprint), groups(item.fingerprint)
        differing = tuple(
            i + 1
            for i in range(max(len(ours), len(theirs)))
            if ours[i : i + 1] != theirs[i : i + 1]
        )
        if differing:
            verdict = UriVerdict.DIFFERENT
        elif device.trust is TrustLevel.VERIFIED:
            verdict = UriVerdict.ALREADY
        else:
            verdict = UriVerdict.VERIFY
        checks.append(UriCheck(item.device_id, item.fingerprint, verdict, differing, device.trust))
    return checks


def uri_summary(jid: str, checks: Sequence[UriCheck], verified: int) -> str:
    """The one toast after applying: what changed, counted."""
    counts = {verdict: sum(c.verdict is verdict for c in checks) for verdict in UriVerdict}
    parts = [f"{verified} device(s) of {neutral(jid, single_line=True)} verified"]
    if counts[UriVerdict.ALREADY]:
        parts.append(f"{counts[UriVerdict.ALREADY]} already verified")
    if counts[UriVerdict.DIFFERENT]:
        parts.append(f"{counts[UriVerdict.DIFFERENT]} with a different key left alone")
    if counts[UriVerdict.UNKNOWN]:
        parts.append(f"{counts[UriVerdict.UNKNOWN]} unknown left alone")
    return "; ".join(parts) + "."


class TrustUriDialog(ModalScreen[bool]):
    """Returns True when the user confirmed."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(False)", "Cancel")]

    def __init__(self, preview: UriPreview, checks: Sequence[UriCheck]) -> None:
        super().__init__()
        self._preview = preview
        self._checks = tuple(checks)

    @property
    def changes(self) -> bool:
        """Whether applying would verify anything."""
        return any(check.verdict is UriVerdict.VERIFY for check in self._checks)

    def compose(self) -> ComposeResult:
        different = [c for c in self._checks if c.verdict is UriVerdict.DIFFERENT]
        warning = "dialog -warning" if different else "dialog"
        with Vertical(classes=warning):
            yield Static("Verify these devices?", classes="dialog-title")
            for check in different:
                yield Static(self._warning(check), classes="error uri-warning", markup=False)
            with VerticalScroll(id="preview-scroll"):
                yield Static(self._summary(), id="preview")
            yield Checkbox("I received this through a trusted channel", id="confirm")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Verify", id="verify", variant="success", disabled=True)

    def on_mount(self) -> None:
        """The box to tick first, as in the compare step (`VerifyDeviceDialog`): Space ticks
        it, Tab reaches Verify. With nothing to verify, Cancel (Enter leaves)."""
        self.query_one("#confirm" if self.changes else "#cancel").focus()

    def _warning(self, check: UriCheck) -> str:
        who = neutral(self._preview.bare_jid, single_line=True)
        numbers = ", ".join(str(n) for n in check.differing)
        return (
            f"Warning: device {check.device_id} of {who} has a different key than this URI "
            f"(group{'s' if len(check.differing) > 1 else ''} {numbers} of 8 differ). Someone "
            "may be impersonating the contact, or the URI is old: ask them over another "
            "channel. That device will not be verified."
        )

    def _summary(self) -> Text:
        text = Text()
        text.append(neutral(self._preview.bare_jid, single_line=True) + "\n", "bold")
        for check in self._checks:
            parts = groups(check.fingerprint)
            style = "bold red" if check.verdict is UriVerdict.DIFFERENT else ""
            state = check.verdict.value
            if check.verdict is UriVerdict.VERIFY and check.current is not None:
                state += f" (now {TRUST_WORDS[check.current]})"
            text.append(f"{check.device_id}  {state}\n", style)
            for start in (0, 4):
                text.append("  ")
                for number, part in enumerate(parts[start : start + 4], start=start + 1):
                    marked = number in check.differing
                    text.append(part, "bold red reverse" if marked else "")
                    text.append(" ")
                text.append("\n")
        text.rstrip()
        return text

    @on(Checkbox.Changed, "#confirm")
    def _confirmed(self, event: Checkbox.Changed) -> None:
        self.query_one("#verify", Button).disabled = not (event.value and self.changes)

    @on(Button.Pressed, "#verify")
    def _verify(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(False)
