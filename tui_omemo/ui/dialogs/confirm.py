"""`ConfirmDialog`: a yes-or-no question before an act that cannot be undone from here
(removing a contact). The default button and Escape cancel."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmDialog(ModalScreen[bool]):
    """Asks `title`, explains with `meaning`; True only when `act` is pressed."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(False)", "Cancel")]

    def __init__(self, title: str, meaning: str, act: str) -> None:
        super().__init__()
        self._title = title
        self._meaning = meaning
        self._act = act

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -warning"):
            yield Static(Text(self._title), classes="dialog-title")
            yield Static(Text(self._meaning))
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button(self._act, id="act", variant="error")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#act")
    def _act_pressed(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(False)
