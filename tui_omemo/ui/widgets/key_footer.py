"""`KeyFooter`: Textual's `Footer`, rebuilt only when the keys it shows change.

Textual's footer composes (and so styles) all of its keys again on every bindings signal of
its screen, also for a screen that was just covered by another one and for signals that
change nothing it shows. Styling the keys is one of the costly steps of opening a chat
(`benchmarks/ui.py`), so every screen with a footer uses this one.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    """A `Footer` that rebuilds its keys only when the keys it would show change.

    Textual's footer composes (and so styles) all of its keys again on every bindings signal
    of its screen; opening a chat sent two with the same keys, so the keys were built twice.
    """

    _shown: tuple[tuple[str, str, bool], ...] | None = None

    def bindings_changed(self, screen: Screen[object]) -> None:
        """Recompose (as `Footer` does) unless the shown keys are the ones on screen."""
        shown = tuple(
            (binding.key, binding.description, enabled)
            for _node, binding, enabled, _tooltip in screen.active_bindings.values()
            if binding.show
        )
        will_compose = screen.app.app_focus and self.is_attached and screen is self.screen
        if will_compose and shown == self._shown:
            return
        if will_compose:
            self._shown = shown
        super().bindings_changed(screen)
