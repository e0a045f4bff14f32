"""`CertificatePanel`: the server certificate part of the account screen.

It shows the account's certificate pin (or that there is none, and then the certificate must be
trusted by a certificate authority and name the domain) with a button to remove it, and, after
a login that refused the server's certificate, that certificate's SHA-256 fingerprint with the
instruction to compare it with the one the server's admin gives, and "Pin this certificate…".

The panel decides nothing: the buttons post `PinRequested` / `UnpinRequested` and the screen
asks for confirmation and stores the change; `show_pin` tells the panel the stored pin.
Fingerprints are shown as the command line prints them (`AA:BB:…`), in two lines of 16 pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Button, Static

from tui_omemo.service.api import RefusedCertificate
from tui_omemo.ui.text import neutral

PAIRS_PER_LINE = 16


def certificate_lines(fingerprint: str, indent: str = "  ") -> str:
    """`AA:BB:…` in lines of PAIRS_PER_LINE pairs (32 pairs: two lines of 47 characters)."""
    pairs = fingerprint.split(":")
    rows = [pairs[start : start + PAIRS_PER_LINE] for start in range(0, len(pairs), PAIRS_PER_LINE)]
    return "\n".join(indent + ":".join(row) for row in rows)


def _refused_text(certificate: RefusedCertificate) -> Text:
    text = Text()
    domain = neutral(certificate.domain, single_line=True)
    text.append(f"The certificate shown for {domain}", "bold")
    text.append(" (SHA-256):\n")
    text.append(certificate_lines(certificate.fingerprint), "bold")
    text.append(
        "\nCompare it, pair by pair, with the fingerprint the server's admin gives you "
        "(not one this server shows). Pin it only if they are the same."
    )
    return text


class CertificatePanel(Vertical):
    """The pin, its removal, and a refused certificate offered for pinning."""

    @dataclass
    class PinRequested(Message):
        """The user asked to pin `certificate` (the screen asks for confirmation first)."""

        certificate: RefusedCertificate

    @dataclass
    class UnpinRequested(Message):
        """The user asked to remove the pin."""

    def __init__(self, refused: RefusedCertificate | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._refused = refused
        self._pin: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="pin-state", markup=False)
        yield Button("Remove the pin", id="unpin", compact=True, classes="-hidden")
        if self._refused is not None:
            yield Static(_refused_text(self._refused), id="refused")
            yield Button("Pin this certificate…", id="pin", variant="warning", compact=True)

    @property
    def pin(self) -> str | None:
        """The stored pin, as last shown."""
        return self._pin

    def show_pin(self, pin: str | None) -> None:
        """Show the stored `pin` (None: none); once the refused certificate is the pinned
        one, it is shown as the pin and no longer offered."""
        self._pin = pin
        pinned = self._refused is not None and pin == self._refused.fingerprint
        if pin is None:
            state = "Server certificate: not pinned (it must be trusted by a certificate authority)"
        else:
            state = f"Server certificate: pinned, SHA-256\n{certificate_lines(pin)}"
        if pinned:
            state += "\nSave and log in to use it."
        self.query_one("#pin-state", Static).update(state)
        self.query_one("#unpin", Button).set_class(pin is None, "-hidden")
        for offer in self.query("#refused, #pin"):
            offer.set_class(pinned, "-hidden")

    @on(Button.Pressed, "#unpin")
    def _unpin(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.UnpinRequested())

    @on(Button.Pressed, "#pin")
    def _pin_requested(self, event: Button.Pressed) -> None:
        event.stop()
        if self._refused is not None:
            self.post_message(self.PinRequested(self._refused))
