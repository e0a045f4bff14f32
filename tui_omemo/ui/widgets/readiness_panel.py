"""`ReadinessPanel`: per room member, whether OMEMO can reach them and how they are trusted.

The count columns are narrow and fixed; the member (a nick, or a whole JID) and the last error
share what the panel's width leaves, each as wide as its longest text when both fit, by the
ratio of those lengths when they do not (neither under its minimum).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.widgets import DataTable

from tui_omemo.service.api import MemberReadiness
from tui_omemo.ui.text import peer_text

COUNTS: tuple[tuple[str, int], ...] = (("Keys", 4), ("Trusted", 7), ("Undec.", 6), ("Distr.", 6))
"""The fixed columns between the member and the last error: label and width."""

MIN_MEMBER = 12
"""The member column is never narrower than this, unless its longest text is shorter."""

MIN_ERROR = 10
"""The last error column is not made narrower than this to widen the member column..."""

ERROR_FLOOR = 5
"""...but it gives way down to this to the member's minimum (its title then cut), rather
than make the panel scroll sideways."""

SPARE = 2
"""Columns kept free for the vertical scrollbar."""


def column_widths(available: int, member: int, error: int) -> tuple[int, int]:
    """(member width, error width) for `available` columns of text between them, given the
    longest member and error texts."""
    if member + error <= available:
        return member, available - member
    share = available * member // max(member + error, 1)
    width = max(min(member, MIN_MEMBER), min(member, share, available - MIN_ERROR))
    return width, max(ERROR_FLOOR, available - width)


class ReadinessPanel(DataTable[Text]):
    """One row per member: nick, keys, trusted/undecided/distrusted devices, last error."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "readiness-panel--ready",
        "readiness-panel--missing",
        "readiness-panel--undecided",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", show_cursor=False)
        self._members: tuple[MemberReadiness, ...] = ()
        self._laid_out_for = -1

    def on_mount(self) -> None:
        self._show()

    def on_resize(self, _event: events.Resize) -> None:
        if self.size.width != self._laid_out_for:
            self._show()

    def set_members(self, members: Sequence[MemberReadiness]) -> None:
        """Replace the rows."""
        self._members = tuple(members)
        self._show()

    def _member_text(self, member: MemberReadiness) -> Text:
        return peer_text(member.nick or member.bare_jid, single_line=True)

    def _show(self) -> None:
        """Columns sized to the width and the texts, then one row per member."""
        names = [self._member_text(member) for member in self._members]
        errors = [peer_text(m.last_error or "", single_line=True) for m in self._members]
        padding = 2 * self.cell_padding * (len(COUNTS) + 2)
        available = self.size.width - padding - SPARE - sum(width for _l, width in COUNTS)
        member, error = column_widths(
            available,
            max([len("Member"), *(name.cell_len for name in names)]),
            max([len("Last error"), *(text.cell_len for text in errors)]),
        )
        self._laid_out_for = self.size.width
        self.clear(columns=True)
        self.add_column("Member", width=member)
        for label, width in COUNTS:
            self.add_column(label, width=width)
        self.add_column("Last error", width=error)
        for row in zip(self._members, names, errors, strict=True):
            self.add_row(*self._cells(*row))

    def _cells(self, member: MemberReadiness, name: Text, error: Text) -> tuple[Text, ...]:
        style = self.get_component_rich_style
        keys = (
            Text("yes", style("readiness-panel--ready"))
            if member.has_keys
            else Text("no", style("readiness-panel--missing"))
        )
        undecided = Text(
            str(member.undecided),
            style("readiness-panel--undecided") if member.undecided else "",
        )
        return name, keys, Text(str(member.trusted)), undecided, Text(str(member.distrusted)), error
