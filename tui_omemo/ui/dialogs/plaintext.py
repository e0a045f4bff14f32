"""`PlaintextDialog`: the explicit choice to send without encryption (DESIGN.md §3.4).

Nothing unencrypted leaves unless the user presses "Send unencrypted"; the default button and
Escape cancel.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui_omemo.ui.text import neutral


class PlaintextDialog(ModalScreen[bool]):
    """Asks before the first unencrypted message to a contact without OMEMO."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(False)", "Cancel")]

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = neutral(name, single_line=True)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -warning"):
            yield Static("Send without encryption?", classes="dialog-title")
            yield Static(
                Text(
                    f"{self._name} has no OMEMO device. If you continue, this and later messages "
                    "in this chat go unencrypted: the servers on the way can read them."
                )
            )
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button("Send unencrypted", id="plaintext", variant="error")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#plaintext")
    def _plaintext(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(False)
