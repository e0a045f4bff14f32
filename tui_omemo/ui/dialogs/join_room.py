"""`JoinRoomDialog`: ask for a room address and a nickname (left empty: the default one,
the account's localpart, shown in the field's placeholder)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from tui_omemo.ui.dialogs.add_contact import looks_like_bare_jid


class JoinRoomDialog(ModalScreen[tuple[str, str] | None]):
    """Returns (room JID, nick), or None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, default_nick: str = "") -> None:
        super().__init__()
        self._default_nick = default_nick

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Join room", classes="dialog-title")
            yield Input(placeholder="room@conference.example.org", id="room")
            hint = (
                f"your nickname (empty: {self._default_nick})"
                if self._default_nick
                else ("your nickname")
            )
            yield Input(placeholder=hint, id="nick")
            yield Static("", id="error", classes="error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Join", id="join", variant="primary")

    @on(Input.Submitted, "#nick")
    @on(Button.Pressed, "#join")
    def _join(self) -> None:
        room = self.query_one("#room", Input).value.strip()
        nick = self.query_one("#nick", Input).value.strip() or self._default_nick
        if not looks_like_bare_jid(room):
            self.query_one("#error", Static).update("The room is an address like room@server.")
        elif not nick:
            self.query_one("#error", Static).update("Choose a nickname.")
        else:
            self.dismiss((room, nick))

    @on(Input.Submitted, "#room")
    def _next(self) -> None:
        self.query_one("#nick", Input).focus()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
