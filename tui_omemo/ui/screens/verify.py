"""`VerifyScreen`: verification by QR code or by a pasted trust URI.

Left, our `xmpp:` trust URI as a QR code for the contact's phone to scan; right, the same URI as
text (c copies it), and a box to paste the contact's URI (p moves there; a paste lands there
from anywhere on the screen). Nothing has the focus at first, so that c and p are keys, not
letters typed into the box. A terminal too small for the whole code (80×24 is) shows, instead
of a cut code, the size to enlarge it to. A pasted URI is previewed by the service, checked
against the keys the server gave us (a different key is a red warning), and applied only after
`TrustUriDialog` has the user confirm the channel it came through.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Static

from tui_omemo.service.api import ChatService
from tui_omemo.ui.dialogs.trust_uri import TrustUriDialog, check_uri, uri_summary
from tui_omemo.ui.screens.base import ServiceScreen
from tui_omemo.ui.widgets.key_footer import KeyFooter
from tui_omemo.ui.widgets.qr_code import QrCode

SIDE_MIN = 24
"""Cells the URI and the paste box need beside the QR code."""


class VerifyScreen(ServiceScreen):
    """Show our QR code; verify a contact by URI."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "copy_uri", "Copy our URI"),
        Binding("p", "focus_paste", "Paste a URI"),
    ]
    AUTO_FOCUS = ""

    def __init__(self, service: ChatService) -> None:
        super().__init__()
        self._service = service
        self._uri = ""

    def compose(self) -> ComposeResult:
        yield Static("Verify", classes="title")
        with Horizontal(id="verify-body"):
            yield QrCode(id="qr")
            with Vertical(id="verify-side"):
                yield Static("", id="qr-too-small", classes="error -hidden", markup=False)
                yield Static(
                    "Let your contact scan this code, or send them this URI:", classes="hint"
                )
                yield Static(id="uri", markup=False)
                yield Static("Paste your contact's URI (xmpp:…?omemo-sid-…):", classes="hint")
                yield Input(placeholder="xmpp:name@example.org?omemo-sid-…", id="paste")
                yield Static("", id="paste-error", classes="error", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self._load_uri()

    @work(exit_on_error=False, group="uri", exclusive=True, description="own trust URI")
    async def _load_uri(self) -> None:
        self._uri = await self._service.own_trust_uri()
        self.query_one(QrCode).show(self._uri)
        self.query_one("#uri", Static).update(Text(self._uri, overflow="fold"))
        self.call_after_refresh(self._fit_qr)

    def on_resize(self) -> None:
        """The QR code shows only when the terminal is large enough to scan it whole."""
        self.call_after_refresh(self._fit_qr)

    def _fit_qr(self) -> None:
        """Hide a QR code that would be cut, and say how large the terminal must be."""
        qr = self.query_one(QrCode)
        width, height = qr.size_needed
        if not width:
            return
        body = self.query_one("#verify-body")
        wide = width + SIDE_MIN + self.app.size.width - body.size.width
        tall = height + self.app.size.height - body.size.height
        fits = self.app.size.width >= wide and self.app.size.height >= tall
        qr.set_class(not fits, "-hidden")
        note = self.query_one("#qr-too-small", Static)
        note.set_class(fits, "-hidden")
        note.update(
            f"The QR code does not fit: enlarge the terminal to {wide}×{tall} to scan it, or "
            "copy the URI below (c) and send it over a channel you trust."
        )

    def action_copy_uri(self) -> None:
        """Put our URI on the clipboard (where the terminal supports it)."""
        if self._uri:
            self.app.copy_to_clipboard(self._uri)
            self.notify("Our trust URI was copied.")

    def action_focus_paste(self) -> None:
        """Move to the paste box."""
        self.query_one("#paste", Input).focus()

    def on_paste(self, event: events.Paste) -> None:
        """A URI pasted while the box does not have the focus goes into it."""
        box = self.query_one("#paste", Input)
        if self.focused is not box and event.text:
            event.stop()
            box.focus()
            box.insert_text_at_cursor(event.text.splitlines()[0])

    @on(Input.Submitted, "#paste")
    def _pasted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self._preview(event.value.strip())

    @work(exit_on_error=False, group="uri-apply", exclusive=True, description="verify by URI")
    async def _preview(self, uri: str) -> None:
        error = self.query_one("#paste-error", Static)
        try:
            preview = await self._service.preview_trust_uri(uri)
        except ValueError as problem:
            error.update(f"Not a trust URI: {problem}")
            return
        error.update("")
        checks = check_uri(preview, await self._service.devices(preview.bare_jid))
        if not await self.app.push_screen_wait(TrustUriDialog(preview, checks)):
            return
        count = await self._service.apply_trust_uri(uri)
        self.query_one("#paste", Input).value = ""
        self.notify(uri_summary(preview.bare_jid, checks, count), markup=False)
