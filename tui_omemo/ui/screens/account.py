"""`AccountScreen`: the first-run form that adds an XMPP account.

It posts `AccountEntered(NewAccount)`; the composition root's callback creates the profile and
the account. What the form asks beyond JID, password and server comes from `AccountForm`, which
the composition root fills in: a new passphrase, typed twice, when no OS keyring can keep the
database key; and the "plaintext on loopback" box, enabled only while the server typed (or the
JID's domain) is this machine — always shown, disabled with the reason otherwise. A new
passphrase has at least `MIN_PASSPHRASE` characters. Enter in any field submits. Neither the
password nor the passphrase appears in a repr.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Input, Static

from tui_omemo.ui.dialogs.add_contact import looks_like_bare_jid

LoopbackCheck = Callable[[str, str | None], bool]
"""Whether an account (JID, server text or None) would connect to this machine only."""


def _never_loopback(_jid: str, _server: str | None) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class NewAccount:
    """What the first-run form collected."""

    jid: str
    password: str = field(repr=False)
    server: str | None = None
    allow_plaintext_loopback: bool = False
    passphrase: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class AccountForm:
    """What the first-run form asks besides the account.

    Attributes:
        ask_passphrase: ask for a new profile passphrase, twice (no keyring keeps a key).
        is_loopback: decides whether the plaintext-on-loopback box is offered.
    """

    ask_passphrase: bool = False
    is_loopback: LoopbackCheck = _never_loopback


MIN_PASSPHRASE = 8
"""Characters a new profile passphrase needs at least."""

PLAINTEXT_OFF = "Only for a server on this machine (127.0.0.1, localhost)."
PLAINTEXT_ON = "The server is on this machine: a test server without TLS may be used."
"""Why the plaintext box is disabled, and what ticking it means once it is not."""

TLS_HINT_ON = "A test server on this machine without TLS: tick the plaintext box below."
TLS_HINT_OFF = (
    "Without TLS only a server on this machine can be used (the plaintext box below); "
    "ask this server's admin to enable TLS."
)
"""Added to a refusal for want of TLS, with the plaintext box enabled or not."""


class AccountScreen(Screen[None]):
    """Add the account tui-omemo will use."""

    @dataclass
    class AccountEntered(Message):
        """The form was filled in and submitted."""

        screen: AccountScreen
        account: NewAccount

    def __init__(self, form: AccountForm | None = None) -> None:
        super().__init__()
        self.form = form or AccountForm()

    def compose(self) -> ComposeResult:
        asked = "" if self.form.ask_passphrase else " -hidden"
        with Vertical(classes="dialog", id="account"):
            yield Static("Welcome to tui-omemo", classes="dialog-title")
            yield Static(
                "Your XMPP account; keys are made on this machine. Enter adds it, Ctrl+Q quits.",
                classes="hint",
            )
            yield Input(placeholder="you@example.org", id="jid")
            yield Input(placeholder="password", password=True, id="password")
            yield Input(placeholder="server[:port] (optional)", id="server")
            yield Checkbox("Allow plaintext (this machine only)", id="plaintext", disabled=True)
            yield Static(PLAINTEXT_OFF, classes="hint", id="plaintext-why")
            yield Static(
                "No keyring to keep the key: choose a passphrase.",
                classes="hint" + asked,
                id="passphrase-hint",
            )
            yield Input(placeholder="new passphrase", password=True, id="passphrase", classes=asked)
            yield Input(
                placeholder="passphrase again", password=True, id="passphrase2", classes=asked
            )
            yield Static("", id="error", classes="error", markup=False)
            yield Button("Add account", id="add", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#jid", Input).focus()

    def ask_passphrase(self) -> None:
        """Show the passphrase boxes (the keyring turned out not to keep the key)."""
        self.form = AccountForm(True, self.form.is_loopback)
        for widget in self.query("#passphrase-hint, #passphrase, #passphrase2"):
            widget.set_class(False, "-hidden")
        self.query_one("#passphrase", Input).focus()

    @on(Input.Changed, "#jid, #server")
    def _offer_plaintext(self) -> None:
        jid, server = self._value("#jid"), self._value("#server") or None
        loopback = looks_like_bare_jid(jid) and self.form.is_loopback(jid, server)
        box = self.query_one("#plaintext", Checkbox)
        box.disabled = not loopback
        if not loopback:
            box.value = False
        self.query_one("#plaintext-why", Static).update(PLAINTEXT_ON if loopback else PLAINTEXT_OFF)

    @on(Input.Submitted)
    @on(Button.Pressed, "#add")
    def _submit(self) -> None:
        problem = self._problem()
        self.show_error(problem or "")
        if problem is None:
            self.post_message(self.AccountEntered(self, self._collect()))

    def _problem(self) -> str | None:
        """What is missing or wrong in the form, or None."""
        passphrase = self.query_one("#passphrase", Input).value
        if not looks_like_bare_jid(self._value("#jid")):
            return "The account is an address like you@example.org."
        if not self.query_one("#password", Input).value:
            return "Type the account's password."
        if self.form.ask_passphrase and not passphrase:
            return "Choose a passphrase for the profile."
        if self.form.ask_passphrase and len(passphrase) < MIN_PASSPHRASE:
            return (
                f"The passphrase needs at least {MIN_PASSPHRASE} characters: it alone "
                "protects your keys."
            )
        if self.form.ask_passphrase and passphrase != self.query_one("#passphrase2", Input).value:
            return "The two passphrases differ; type them again."
        return None

    def _collect(self) -> NewAccount:
        return NewAccount(
            self._value("#jid"),
            self.query_one("#password", Input).value,
            self._value("#server") or None,
            self.query_one("#plaintext", Checkbox).value,
            self.query_one("#passphrase", Input).value if self.form.ask_passphrase else None,
        )

    def _value(self, selector: str) -> str:
        return self.query_one(selector, Input).value.strip()

    def show_error(self, reason: str) -> None:
        """Say what is wrong with the form (or what the callback refused); a refusal for
        want of TLS points to the loopback-plaintext box."""
        if "TLS" in reason:
            box = self.query_one("#plaintext", Checkbox)
            hint = TLS_HINT_ON if not box.disabled else TLS_HINT_OFF
            reason = f"{reason.rstrip('.')}. {hint}"
        self.query_one("#error", Static).update(reason)
