"""`WelcomeDialog`: a first-time note shown over the roster (the demo's narration: who is who,
the fingerprints to compare, what to try). The text comes from whoever started the app and is
shown as plain text. Escape or Enter closes it; it does not come back."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui_omemo.ui.text import neutral


class WelcomeDialog(ModalScreen[None]):
    """Shows `text` once; any of Escape or Enter closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "dismiss", "Close", show=False),
    ]

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="welcome"):
            yield Static("Welcome", classes="dialog-title")
            with VerticalScroll(id="welcome-body"):
                yield Static(neutral(self._text), id="welcome-text", markup=False)
            yield Static("Enter or Escape closes this; F1 shows the keys.", classes="hint")
