"""`KeyFooter`: Textual's `Footer`, rebuilt only when the keys it shows change, and wrapped
onto more lines instead of cut at the right edge.

Textual's footer composes (and so styles) all of its keys again on every bindings signal of
its screen, also for a screen that was just covered by another one and for signals that
change nothing it shows. Styling the keys is one of the costly steps of opening a chat
(`benchmarks/ui.py`), so every screen with a footer uses this one.

Textual's footer is one line, and at 80 columns the keys of a screen plus the app's do not
fit: the last ones were cut ("r Rebui"). This one lays its keys out in a grid with as many
columns as fit the width (`columns_that_fit`), so they wrap onto a second or third line (the
grid itself is set in styles/base.tcss).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

PALETTE_KEY_WIDTH = 12
"""Cells kept free on the first line for the command palette's key, docked right."""


def columns_that_fit(widths: Sequence[int], room: int) -> int:
    """The most columns a grid of cells `widths` (row by row) can have within `room` cells,
    each column as wide as its widest cell (at least one column)."""
    for columns in range(len(widths), 1, -1):
        column_widths = [max(widths[c::columns]) for c in range(columns)]
        if sum(column_widths) <= room:
            return columns
    return 1


class KeyFooter(Footer):
    """A `Footer` that rebuilds its keys only when the keys it would show change, and wraps."""

    _shown: tuple[tuple[str, str, bool], ...] | None = None

    def __init__(self) -> None:
        super().__init__(compact=True)

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

    def compose(self) -> ComposeResult:
        keys = list(super().compose())
        widths = [
            cell_len(key.key_display) + 1 + cell_len(key.description) + 1
            for key in keys
            if isinstance(key, FooterKey) and not key.has_class("-command-palette")
        ]
        self._widths = widths
        self._fit(self.size.width or self.app.size.width)
        yield from keys

    _widths: list[int] = []  # noqa: RUF012 (replaced per instance in compose)

    def _fit(self, width: int) -> None:
        if self._widths:
            columns = columns_that_fit(self._widths, width - PALETTE_KEY_WIDTH)
            self.set_styles(f"grid-size: {columns};")  # a layout from the width, not a colour

    def on_resize(self, event: events.Resize) -> None:
        """Fewer or more columns for the new width."""
        self._fit(event.size.width)
