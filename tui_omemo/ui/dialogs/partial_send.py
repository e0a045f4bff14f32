"""`PartialSendDialog`: the explicit choice to send to a room without the members who have no
usable keys (DESIGN.md §3.4).

The service refuses a room message while a member has no trusted device that can receive it;
this dialog lists those members and offers "Send to everyone with keys". The default button and
Escape cancel. Member JIDs and reasons are peer text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui_omemo.service.api import SkippedDevice
from tui_omemo.ui.text import neutral


class PartialSendDialog(ModalScreen[bool]):
    """Asks whether a room message may go to everyone with keys, skipping `members`."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(False)", "Cancel")]

    def __init__(self, room: str, members: Sequence[SkippedDevice]) -> None:
        super().__init__()
        self._room = neutral(room, single_line=True)
        self._members = tuple(members)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -warning"):
            yield Static("Some members cannot read this", classes="dialog-title")
            yield Static(
                Text(
                    f"{len(self._members)} member(s) of {self._room} have no trusted device that "
                    "can receive OMEMO messages, so nothing was sent. Sending to everyone with "
                    "keys skips them, now and for later messages in this room."
                )
            )
            yield Static(self._listing(), id="skipped-members")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button("Send to everyone with keys", id="partial", variant="warning")

    def _listing(self) -> Text:
        lines = Text()
        for member in self._members:
            lines.append(f"\n• {neutral(member.bare_jid, single_line=True)}", "bold")
            lines.append(f"  {neutral(member.reason, single_line=True)}")
        return lines

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#partial")
    def _partial(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(False)
