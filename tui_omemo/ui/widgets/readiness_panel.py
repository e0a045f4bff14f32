"""`ReadinessPanel`: per room member, whether OMEMO can reach them and how they are trusted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.widgets import DataTable

from tui_omemo.service.api import MemberReadiness
from tui_omemo.ui.text import peer_text


class ReadinessPanel(DataTable[Text]):
    """One row per member: nick, keys, trusted/undecided/distrusted devices, last error."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "readiness-panel--ready",
        "readiness-panel--missing",
        "readiness-panel--undecided",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", show_cursor=False)

    def on_mount(self) -> None:
        for label, width in (
            ("Member", 12),
            ("Keys", 4),
            ("Trusted", 7),
            ("Undec.", 6),
            ("Distr.", 6),
            ("Last error", 26),
        ):
            self.add_column(label, width=width)

    def set_members(self, members: Sequence[MemberReadiness]) -> None:
        """Replace the rows."""
        self.clear()
        style = self.get_component_rich_style
        for member in members:
            keys = (
                Text("yes", style("readiness-panel--ready"))
                if member.has_keys
                else Text("no", style("readiness-panel--missing"))
            )
            undecided = Text(
                str(member.undecided),
                style("readiness-panel--undecided") if member.undecided else "",
            )
            self.add_row(
                peer_text(member.nick or member.bare_jid, single_line=True),
                keys,
                Text(str(member.trusted)),
                undecided,
                Text(str(member.distrusted)),
                peer_text(member.last_error or "", single_line=True),
            )
