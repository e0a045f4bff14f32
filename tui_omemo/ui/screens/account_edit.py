"""`AccountEditScreen`: this device and the account's login, changed without losing anything.

It shows this device's id and fingerprint, our other devices, and lets the user set this
device's label, a new password, the server and the loopback-plaintext switch, and the server
certificate pin (`CertificatePanel`): the current pin, which can be removed, and after a login
that refused the server's certificate, its fingerprint and "Pin this certificate…", which
pins it only once the user confirmed the comparison (`PinCertificateDialog`). It talks to an
`AccountEditor`: the running service (opened from the roster, F4 or the palette), or, after a
failed login when no service runs, the profile itself; the app then shows what failed at the
top and, once saved, logs in again (the screen is dismissed with True). Keys, trust decisions
and history are never part of a change.

Labels of our other devices come from the server and are drawn as text, never as markup. The
password box is emptied once saved, and the password is never shown.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Input, Label, Static
from textual.worker import Worker

from tui_omemo.service.api import (
    AccountChange,
    AccountEditor,
    AccountInfo,
    DeviceInfo,
    RefusedCertificate,
)
from tui_omemo.ui.dialogs.pin_certificate import PinCertificateDialog
from tui_omemo.ui.screens.base import failure_words
from tui_omemo.ui.text import neutral
from tui_omemo.ui.widgets.certificate_panel import CertificatePanel
from tui_omemo.ui.widgets.device_table import TRUST_WORDS
from tui_omemo.ui.widgets.fingerprint import groups


def _fingerprint_lines(fingerprint: str, indent: str = "  ") -> str:
    """The fingerprint as two lines of four groups (it fits a narrow terminal)."""
    parts = groups(fingerprint)
    return f"{indent}{' '.join(parts[:4])}\n{indent}{' '.join(parts[4:])}"


def _device_facts(device: DeviceInfo) -> Text:
    """One line: id, label, state, the first group of the fingerprint (the trust manager
    shows all of it)."""
    text = Text(f"  {device.device_id}")
    if device.label:
        text.append(f" {neutral(device.label, single_line=True)[:20]}")
    state = f"{'active' if device.active else 'inactive'}, {TRUST_WORDS[device.trust]}"
    seen = "" if device.last_seen is None else f", seen {device.last_seen:%Y-%m-%d}"
    first = f"{groups(device.fingerprint)[0]}…" if device.fingerprint else "key not fetched"
    text.append(f" ({state}{seen}) {first}", style="dim")
    return text


def account_facts(info: AccountInfo) -> Text:
    """What does not change here: the JID, this device and our other devices."""
    text = Text()
    text.append(info.jid, style="bold")
    text.append(f"\nThis device: {info.device_id}\n")
    text.append(_fingerprint_lines(info.fingerprint))
    if info.other_devices:
        text.append("\nOther devices:")
        for device in info.other_devices:
            text.append("\n")
            text.append_text(_device_facts(device))
    else:
        text.append("\nNo other devices of yours are known.", style="dim")
    return text


def _saved_words(change: AccountChange) -> str:
    """What saving `change` did, for the toast of the online screen."""
    if change == AccountChange():
        return "Nothing changed."
    if (
        change.password is None
        and change.server is None
        and (change.allow_plaintext_loopback is None)
    ):
        return "Saved; the label is published on your OMEMO 2 device list."
    return "Saved; used to log in from the next start of tui-omemo."


def _pinned_words(pin: str | None, failed_login: bool) -> str:
    """What pinning or unpinning did, for the toast."""
    if pin is None:
        return (
            "The pin is removed: from the next login, the server's certificate must be "
            "trusted by a certificate authority."
        )
    if failed_login:
        return "The certificate is pinned. Save and log in to use it."
    return "The certificate is pinned; it is used from the next login."


class AccountEditScreen(Screen[bool]):
    """The account screen: this device, the label, the password, the server, the
    certificate pin."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "leave", "Back")]

    def __init__(
        self,
        editor: AccountEditor,
        failure: str | None = None,
        certificate: RefusedCertificate | None = None,
    ) -> None:
        """`failure`: what failed when logging in (the screen then saves and logs in again);
        `certificate`: the server certificate that login refused, offered for pinning."""
        super().__init__()
        self._editor = editor
        self._failure = failure
        self._certificate = certificate
        self._info: AccountInfo | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="account-edit"):
            yield Static("Account", classes="dialog-title")
            yield Static(
                Text(neutral(self._failure_words())),
                id="failure",
                classes="error" + ("" if self._failure else " -hidden"),
            )
            yield Static("", id="facts")
            with Horizontal(classes="field"):
                yield Label("Label")
                yield Input(placeholder="this device's name, e.g. laptop", id="label")
            with Horizontal(classes="field"):
                yield Label("Password")
                yield Input(placeholder="unchanged", password=True, id="password")
            with Horizontal(classes="field", id="server-field"):
                yield Label("Server")
                yield Input(placeholder="host[:port]; empty: the JID's domain", id="server")
            yield Checkbox("Allow plaintext to this machine only", id="plaintext")
            yield CertificatePanel(self._certificate, id="certificate")
            yield Static("", id="error", classes="error", markup=False)
            yield Static(self._hint(), classes="hint", id="hint")
            yield Button(
                "Save and log in" if self._failure else "Save",
                id="save",
                variant="primary",
                compact=True,
            )

    def _failure_words(self) -> str:
        """What failed; for a refused certificate without its fingerprint, which the
        certificate panel shows in a form made for comparing."""
        if self._certificate is not None:
            return f"Login failed: {self._certificate.problem}."
        return self._failure or ""

    def _hint(self) -> str:
        if self._failure:
            return "Keys, trust and history are kept. Esc: back, no login."
        return "Keys, trust and history are kept. Esc: back."

    def on_mount(self) -> None:
        self._load()

    @property
    def info(self) -> AccountInfo | None:
        """The account as last read or saved."""
        return self._info

    @work(exit_on_error=False, group="account", exclusive=True, description="read the account")
    async def _load(self) -> None:
        self._show(await self._editor.account())
        focus = "#password" if self._failure else "#label"
        if self._certificate is not None:
            focus = "#pin"  # scrolled into view with the fingerprint above it, once laid out
        self.call_after_refresh(self.query_one(focus).focus)

    def _show(self, info: AccountInfo) -> None:
        """Show `info` and put its values in the boxes."""
        self._info = info
        self.query_one("#facts", Static).update(account_facts(info))
        self.query_one("#label", Input).value = info.label or ""
        self.query_one("#server", Input).value = info.server
        self.query_one("#plaintext", Checkbox).value = info.allow_plaintext_loopback
        self.query_one("#password", Input).value = ""
        self.query_one(CertificatePanel).show_pin(info.certificate_pin)

    def change(self) -> AccountChange:
        """What the boxes change compared with the account as shown."""
        info = self._info
        label = self.query_one("#label", Input).value.strip()
        server = self.query_one("#server", Input).value.strip()
        plaintext = self.query_one("#plaintext", Checkbox).value
        return AccountChange(
            password=self.query_one("#password", Input).value or None,
            server=None if info is not None and server == info.server else server,
            allow_plaintext_loopback=None
            if info is not None and plaintext == info.allow_plaintext_loopback
            else plaintext,
            label=None if info is not None and label == (info.label or "") else label,
        )

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def _submit(self) -> None:
        self._save(self.change())

    @work(exit_on_error=False, group="account", exclusive=True, description="save the account")
    async def _save(self, change: AccountChange) -> None:
        if change != AccountChange():
            try:
                info = await self._editor.update_account(change)
            except ValueError as error:
                self.query_one("#error", Static).update(str(error))
                return
            self._show(info)
        self.query_one("#error", Static).update("")
        if self._failure:
            self.dismiss(True)
        else:
            self.notify(_saved_words(change), title="Account", markup=False)

    @on(CertificatePanel.PinRequested)
    def _pin_requested(self, event: CertificatePanel.PinRequested) -> None:
        """Pin the refused certificate, once the user confirmed the comparison."""

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._pin(event.certificate.fingerprint)

        current = self._info.certificate_pin if self._info is not None else None
        self.app.push_screen(PinCertificateDialog(event.certificate, current), confirmed)

    @on(CertificatePanel.UnpinRequested)
    def _unpin_requested(self) -> None:
        self._pin("")

    @work(exit_on_error=False, group="account", exclusive=True, description="pin the certificate")
    async def _pin(self, pin: str) -> None:
        """Store `pin` ("" removes it); the boxes keep what was typed."""
        try:
            info = await self._editor.update_account(AccountChange(certificate_pin=pin))
        except ValueError as error:
            self.query_one("#error", Static).update(str(error))
            return
        self._info = info
        # Focus moves to Save now, before the button pressed is hidden: a deferred focus() would
        # leave a moment where the hidden button's focus has passed to its neighbour.
        self.set_focus(self.query_one("#save", Button))
        self.query_one(CertificatePanel).show_pin(info.certificate_pin)
        self.query_one("#error", Static).update("")
        words = _pinned_words(info.certificate_pin, self._failure is not None)
        self.notify(words, title="Account", markup=False)

    def action_leave(self) -> None:
        """Back: to the failed login (nothing tried again), or to the screen before."""
        self.dismiss(False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        words = failure_words(event.worker)
        if words is not None:
            self.query_one("#error", Static).update(words)
