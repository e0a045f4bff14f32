"""Tab and Shift+Tab handled as soon as they arrive, so that the keys after them follow.

Textual checks ordinary bindings only once a key has gone to the focused widget and bubbled
back up; keys read from the terminal together with a Tab (a fast typist, a slow link) are by
then already on their way to the field Tab is leaving: "127.0.0.1" typed after Tab lost its
"1" to the previous field, or all of it. As priority bindings of the app, Tab and Shift+Tab
move the focus before the next key is delivered. A widget that may use Tab itself has a
`wants_tab` attribute and gets every Tab: it is read by the widget in its turn, after the keys
typed before the Tab (read here, "/fi" then Tab arriving together found the composer still
empty and left it instead of completing); when it is false the screen's own Tab binding moves
the focus.
"""

from __future__ import annotations

from textual.actions import SkipAction
from textual.app import App
from textual.binding import Binding

TAB_FIRST = (
    Binding("tab", "move_focus(1)", "Next field", show=False, priority=True),
    Binding("shift+tab", "move_focus(-1)", "Previous field", show=False, priority=True),
)
"""The app's bindings for Tab and Shift+Tab."""


class TabFirst(App[None]):
    """An app whose Tab and Shift+Tab (`TAB_FIRST` among its bindings) move the focus at once."""

    def action_move_focus(self, step: int) -> None:
        """The next (1) or previous (-1) field, unless the focused widget may want Tab."""
        if hasattr(self.focused, "wants_tab"):
            raise SkipAction
        if step > 0:
            self.screen.focus_next()
        else:
            self.screen.focus_previous()
