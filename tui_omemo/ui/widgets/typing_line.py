"""`TypingLine`: the line under a chat's title that says who is typing (XEP-0085, issue 17).

"typing…" while the contact composes, "stopped typing" once it paused; in a room "NICK is
typing…" (several nicks are listed). Any other state, and any message from that person, clears
it. Nicks are peer text: shown as data, never as markup. The line is hidden while empty.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui_omemo.ui.text import neutral

SHOWN = frozenset({"composing", "paused"})
"""States that are shown; the others clear the line."""


class TypingLine(Static):
    """Who is typing in one chat; `nick` "" is the 1:1 contact."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False, classes="-hidden")
        self._states: dict[str, str] = {}

    def show_state(self, state: str, nick: str = "") -> None:
        """`nick` (or the contact) is now `state`."""
        if state in SHOWN:
            self._states[nick] = state
        else:
            self._states.pop(nick, None)
        self._redraw()

    def spoke(self, nick: str = "") -> None:
        """A message came from `nick` (or the contact): it is no longer typing."""
        if self._states.pop(nick, None) is not None:
            self._redraw()

    def _redraw(self) -> None:
        self.set_class(not self._states, "-hidden")
        self.update(Text(self.describe(), style="italic"))

    def describe(self) -> str:
        """The line's text ("" when nobody types)."""
        typing = [nick for nick, state in self._states.items() if state == "composing"]
        paused = [nick for nick, state in self._states.items() if state == "paused"]
        if "" in typing:
            return "typing…"
        if "" in paused:
            return "stopped typing"
        if typing:
            names = ", ".join(neutral(nick, single_line=True) for nick in typing)
            return f"{names} {'is' if len(typing) == 1 else 'are'} typing…"
        return ""
