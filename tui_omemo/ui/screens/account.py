"""`AccountScreen`: the first-run form that adds an XMPP account.

It posts `AccountEntered(NewAccount)`; the composition root's callback creates the account and
the profile. The password never appears in a repr.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Input, Static

from tui_omemo.ui.dialogs.add_contact import looks_like_bare_jid


@dataclass(frozen=True, slots=True)
class NewAccount:
    """What the first-run form collected."""

    jid: str
    password: str = field(repr=False)
    server: str | None = None


class AccountScreen(Screen[None]):
    """Add the account tui-omemo will use."""

    @dataclass
    class AccountEntered(Message):
        """The form was filled in and submitted."""

        screen: AccountScreen
        account: NewAccount

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="account"):
            yield Static("Welcome to tui-omemo", classes="dialog-title")
            yield Static("Add your XMPP account. Keys are created on this machine.", classes="hint")
            yield Input(placeholder="you@example.org", id="jid")
            yield Input(placeholder="password", password=True, id="password")
            yield Input(placeholder="server[:port] (optional)", id="server")
            yield Static("", id="error", classes="error", markup=False)
            yield Button("Add account", id="add", variant="primary")

    @on(Input.Submitted)
    @on(Button.Pressed, "#add")
    def _submit(self) -> None:
        jid = self.query_one("#jid", Input).value.strip()
        password = self.query_one("#password", Input).value
        server = self.query_one("#server", Input).value.strip() or None
        if not looks_like_bare_jid(jid):
            self.show_error("The account is an address like you@example.org.")
        elif not password:
            self.show_error("Type the account's password.")
        else:
            self.post_message(self.AccountEntered(self, NewAccount(jid, password, server)))

    def show_error(self, reason: str) -> None:
        """Say what is wrong with the form (or what the callback refused)."""
        self.query_one("#error", Static).update(reason)
