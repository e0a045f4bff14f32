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

    def __init__(self, name: str, *, one_message: bool = False) -> None:
        """`one_message`: the /plaintext command, one message unencrypted although the
        contact may have OMEMO devices."""
        super().__init__()
        self._name = neutral(name, single_line=True)
        self._one_message = one_message

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -warning"):
            yield Static("Send without encryption?", classes="dialog-title")
            yield Static(Text(self._explanation()))
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button("Send unencrypted", id="plaintext", variant="error")

    def _explanation(self) -> str:
        if self._one_message:
            return (
                f"This message to {self._name} goes unencrypted: the servers on the way can "
                f"read it. Later messages are encrypted whenever {self._name} has OMEMO devices."
            )
        return (
            f"{self._name} has no OMEMO device. If you continue, this and later messages "
            "in this chat go unencrypted: the servers on the way can read them."
        )

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#plaintext")
    def _plaintext(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(False)
