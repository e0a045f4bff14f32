"""`PinCertificateDialog`: the confirmation before a server certificate is pinned.

A pin makes this account accept exactly one certificate for its domain, whoever signed it, so
it is only as good as the comparison behind it. The dialog shows the fingerprint again, says
what pinning does, and "Pin" stays disabled until the user ticks that it is the same as the
fingerprint the server's admin gave. Cancel has the focus, and Escape cancels.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Static

from tui_omemo.service.api import RefusedCertificate
from tui_omemo.ui.text import neutral
from tui_omemo.ui.widgets.certificate_panel import certificate_lines


class PinCertificateDialog(ModalScreen[bool]):
    """Dismisses with True only when the user ticked the comparison and pressed Pin."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(False)", "Cancel")]

    def __init__(self, certificate: RefusedCertificate, current: str | None = None) -> None:
        """`current`: the pin this one replaces, if any."""
        super().__init__()
        self._certificate = certificate
        self._current = current

    def compose(self) -> ComposeResult:
        domain = neutral(self._certificate.domain, single_line=True)
        with Vertical(classes="dialog -warning", id="pin-certificate"):
            yield Static(
                f"Pin this certificate for {domain}?", classes="dialog-title", markup=False
            )
            with VerticalScroll(id="pin-explanation"):
                yield Static(self._explanation(domain))
            yield Checkbox("It is the same as the fingerprint the server's admin gave", id="same")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", variant="primary", compact=True)
                yield Button("Pin", id="confirm", variant="warning", compact=True, disabled=True)

    def _explanation(self, domain: str) -> Text:
        text = Text("SHA-256\n")
        text.append(certificate_lines(self._certificate.fingerprint), "bold")
        text.append(
            f"\n\nFrom now on this account accepts exactly this certificate for {domain}, "
            "whoever signed it, and refuses every other one (a renewed certificate too, "
            "until you pin it). Pin it only if the admin's fingerprint is the same."
        )
        if self._current is not None:
            text.append(f"\n\nIt replaces the pin\n{certificate_lines(self._current)}")
        return text

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Checkbox.Changed, "#same")
    def _compared(self, event: Checkbox.Changed) -> None:
        self.query_one("#confirm", Button).disabled = not event.value

    @on(Button.Pressed, "#confirm")
    def _confirmed(self) -> None:
        if self.query_one("#same", Checkbox).value:
            self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(False)
