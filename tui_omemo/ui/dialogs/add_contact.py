"""`AddContactDialog`: ask for a bare JID to add to the roster."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


def looks_like_bare_jid(text: str) -> bool:
    """True for `local@domain` without spaces or a resource."""
    local, at, domain = text.partition("@")
    return bool(local and at and domain) and "/" not in text and not any(c.isspace() for c in text)


class AddContactDialog(ModalScreen[str | None]):
    """Returns the JID typed, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Add contact", classes="dialog-title")
            yield Input(placeholder="name@example.org", id="jid")
            yield Static("", id="error", classes="error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Add", id="add", variant="primary")

    @on(Input.Submitted, "#jid")
    @on(Button.Pressed, "#add")
    def _add(self) -> None:
        jid = self.query_one("#jid", Input).value.strip()
        if looks_like_bare_jid(jid):
            self.dismiss(jid)
        else:
            self.query_one("#error", Static).update("That is not a JID like name@example.org.")

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
