"""`TrustUriDialog`: what a pasted trust URI would verify, and the user's confirmation.

"Verify" stays disabled until the user ticks "I received this through a trusted channel": a URI
is only as good as the way it reached us.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Static

from tui_omemo.service.api import UriPreview
from tui_omemo.ui.text import neutral
from tui_omemo.ui.widgets.device_table import TRUST_WORDS
from tui_omemo.ui.widgets.fingerprint import groups


class TrustUriDialog(ModalScreen[bool]):
    """Returns True when the user confirmed."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(False)", "Cancel")]

    def __init__(self, preview: UriPreview) -> None:
        super().__init__()
        self._preview = preview

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Verify these devices?", classes="dialog-title")
            yield Static(self._summary(), id="preview")
            yield Checkbox("I received this through a trusted channel", id="confirm")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Verify", id="verify", variant="success", disabled=True)

    def _summary(self) -> Text:
        text = Text()
        text.append(neutral(self._preview.bare_jid, single_line=True) + "\n", "bold")
        for item in self._preview.fingerprints:
            if not item.known:
                state = "unknown device or different key: will not be verified"
            elif item.current is None:
                state = "known"
            else:
                state = f"now {TRUST_WORDS[item.current]}"
            text.append(f"{item.device_id}  {' '.join(groups(item.fingerprint)[:4])}\n", "")
            text.append(
                f"{'':>{len(str(item.device_id))}}  {' '.join(groups(item.fingerprint)[4:])}"
                f"  ({state})\n",
                "",
            )
        text.rstrip()
        return text

    @on(Checkbox.Changed, "#confirm")
    def _confirmed(self, event: Checkbox.Changed) -> None:
        self.query_one("#verify", Button).disabled = not event.value

    @on(Button.Pressed, "#verify")
    def _verify(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(False)
