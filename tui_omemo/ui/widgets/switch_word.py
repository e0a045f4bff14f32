"""`SwitchWord`: "on" or "off" beside a `Switch`, so that its state is said in words and not
only by the slider's side and colour. It follows the switch's value however it changes (a
click, a key, or a screen loading the stored value)."""

from __future__ import annotations

from textual.widgets import Static, Switch


def on_off(value: bool) -> str:
    """A switch's state in a word."""
    return "on" if value else "off"


class SwitchWord(Static):
    """The word for the sibling switch with the id `switch_id`."""

    DEFAULT_CSS = """
    SwitchWord {
        width: 4;
        height: 3;
        content-align: left middle;
    }
    """

    def __init__(self, switch_id: str) -> None:
        super().__init__("", classes="switch-word", id=f"{switch_id}-word")
        self._switch_id = switch_id

    def on_mount(self) -> None:
        parent = self.parent
        assert parent is not None
        switch = parent.query_one(f"#{self._switch_id}", Switch)
        self.watch(switch, "value", self._show, init=True)

    def _show(self, value: bool) -> None:
        self.update(on_off(value))
