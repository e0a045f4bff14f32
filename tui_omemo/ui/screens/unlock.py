"""`UnlockScreen`: the passphrase prompt for a profile whose key is not in a keyring.

It only posts `PassphraseEntered`; the app hands the passphrase to the composition root's
callback and calls `show_error` when it was wrong. The box is emptied right after posting, so the
passphrase does not stay on screen or in the widget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Static


class UnlockScreen(Screen[None]):
    """Ask for the profile passphrase."""

    @dataclass
    class PassphraseEntered(Message):
        """The user typed a passphrase and pressed Enter."""

        screen: UnlockScreen
        passphrase: str = field(repr=False)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="unlock"):
            yield Static("Unlock tui-omemo", classes="dialog-title")
            yield Static(
                "Your profile is encrypted. Type its passphrase and press Enter.", classes="hint"
            )
            yield Input(password=True, placeholder="passphrase", id="passphrase")
            yield Static("", id="error", classes="error", markup=False)

    def on_mount(self) -> None:
        self.query_one("#passphrase", Input).focus()

    @on(Input.Submitted, "#passphrase")
    def _entered(self, event: Input.Submitted) -> None:
        if event.value:
            self.post_message(self.PassphraseEntered(self, event.value))
            event.input.value = ""

    def show_error(self, reason: str) -> None:
        """The passphrase did not open the profile."""
        self.query_one("#error", Static).update(reason)
        self.query_one("#passphrase", Input).focus()
