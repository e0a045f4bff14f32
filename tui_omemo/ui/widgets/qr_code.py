"""`QrCode`: a QR code drawn with half-block characters, scannable from the screen.

One module is one cell wide and half a cell high: a terminal cell is about twice as tall as it
is wide, so two modules stacked in one cell (upper half block, lower half block) come out square.
The code keeps segno's 4-module quiet zone, and dark/light are the foreground/background of the
`qr-code--module` component class (dark on light, whatever the theme, set in tcss).
"""

from __future__ import annotations

from typing import ClassVar

import segno
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

QUIET_ZONE = 4


def half_block_rows(data: str) -> list[list[tuple[bool, bool]]]:
    """The QR code of `data` as rows of cells, each (upper module dark, lower module dark)."""
    code = segno.make(data, error="l", micro=False)
    matrix = [[bool(module) for module in row] for row in code.matrix_iter(border=QUIET_ZONE)]
    if len(matrix) % 2:
        matrix.append([False] * len(matrix[0]))
    pairs = zip(matrix[0::2], matrix[1::2], strict=True)
    return [list(zip(upper, lower, strict=True)) for upper, lower in pairs]


def half_block_text(rows: list[list[tuple[bool, bool]]], dark_on_light: Style) -> Text:
    """Half-block characters: foreground draws dark modules, background shows light ones."""
    glyphs = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}
    text = Text(no_wrap=True, end="")
    for number, row in enumerate(rows):
        if number:
            text.append("\n")
        text.append("".join(glyphs[cell] for cell in row), dark_on_light)
    return text


class QrCode(Widget):
    """Shows `data` as a QR code; the parent sets it with `show`."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"qr-code--module"}

    def __init__(self, data: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._rows = half_block_rows(data) if data else []

    def show(self, data: str) -> None:
        """Draw the QR code of `data`."""
        self._rows = half_block_rows(data)
        self.refresh(layout=True)

    @property
    def size_needed(self) -> tuple[int, int]:
        """(columns, rows) the whole code with its quiet zone takes; (0, 0) before `show`."""
        return (len(self._rows[0]), len(self._rows)) if self._rows else (0, 0)

    def render(self) -> Text:
        return half_block_text(self._rows, self.get_component_rich_style("qr-code--module"))

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return len(self._rows[0]) if self._rows else 0

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._rows)
