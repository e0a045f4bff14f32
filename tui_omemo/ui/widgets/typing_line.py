"""`TypingLine`: the line under a chat's title that says who is typing (XEP-0085, issue 17).

"typing…" while the contact composes, "stopped typing" once it paused; in a room "NICK is
typing…" (several nicks are listed). Any other state, and any message from that person, clears
it, and so does silence: a state not renewed within `FORGET_AFTER_S` is dropped (a client that
went away without a word must not stay "typing…" for ever). Nicks are peer text: shown as
data, never as markup. The line is hidden while empty.
"""

from __future__ import annotations

from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static

from tui_omemo.ui.text import neutral

FORGET_AFTER_S = 30.0
"""Seconds after which a shown state that was not renewed is dropped."""

SHOWN = frozenset({"composing", "paused"})
"""States that are shown; the others clear the line."""


class TypingLine(Static):
    """Who is typing in one chat; `nick` "" is the 1:1 contact."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False, classes="-hidden")
        self._states: dict[str, str] = {}
        self._expiries: dict[str, Timer] = {}

    def show_state(self, state: str, nick: str = "") -> None:
        """`nick` (or the contact) is now `state`."""
        self._forget_later(nick, None)
        if state in SHOWN:
            self._states[nick] = state
            self._forget_later(nick, self.set_timer(FORGET_AFTER_S, lambda: self.spoke(nick)))
        else:
            self._states.pop(nick, None)
        self._redraw()

    def spoke(self, nick: str = "") -> None:
        """A message came from `nick` (or the contact): it is no longer typing."""
        self._forget_later(nick, None)
        if self._states.pop(nick, None) is not None:
            self._redraw()

    def _forget_later(self, nick: str, timer: Timer | None) -> None:
        """Replace `nick`'s pending expiry with `timer`."""
        old = self._expiries.pop(nick, None)
        if old is not None:
            old.stop()
        if timer is not None:
            self._expiries[nick] = timer

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
