"""`SubscriptionDialog`: someone asks to see our presence (issue 17); nothing is granted until
the user answers. Allow lets them see it, Deny refuses, Allow and add also adds them to the
roster and asks to see theirs; Escape leaves the request open (the roster keeps its mark)."""

from __future__ import annotations

import enum
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui_omemo.ui.text import neutral


class SubscriptionAnswer(enum.Enum):
    """The user's answer to a subscription request."""

    ALLOW = "allow"
    DENY = "deny"
    ALLOW_AND_ADD = "add"


class SubscriptionDialog(ModalScreen[SubscriptionAnswer | None]):
    """Asks whether `jid` may see our presence."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Later")]

    def __init__(self, jid: str) -> None:
        super().__init__()
        self._jid = neutral(jid, single_line=True)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="subscription"):
            yield Static("Subscription request", classes="dialog-title")
            yield Static(
                Text(
                    f"{self._jid} asks to see when you are online and your status message. "
                    "Escape decides later."
                )
            )
            with Horizontal(classes="buttons"):
                yield Button("Allow and add", id="add", variant="primary")
                yield Button("Allow", id="allow")
                yield Button("Deny", id="deny", variant="error")

    def on_mount(self) -> None:
        self.query_one("#add", Button).focus()

    @on(Button.Pressed)
    def _answered(self, event: Button.Pressed) -> None:
        self.dismiss(SubscriptionAnswer(event.button.id))
