"""The group readiness panel gives the member column room: a whole JID shows when the panel
is wide enough (it was cut at 12 characters while "Last error" sat empty), and in a narrow
panel the member and the last error share the width by the length of their texts."""

from __future__ import annotations

from textual.app import App, ComposeResult

from tui_omemo.service.api import MemberReadiness
from tui_omemo.ui.widgets.readiness_panel import (
    ERROR_FLOOR,
    MIN_ERROR,
    MIN_MEMBER,
    ReadinessPanel,
    column_widths,
)

LONG = "bobc0a1@localhost"
ERROR = "no device list published"


class PanelApp(App[None]):
    """Only the panel, as wide as the terminal."""

    def compose(self) -> ComposeResult:
        yield ReadinessPanel()


def _lines(panel: ReadinessPanel) -> list[str]:
    return [panel.render_line(y).text for y in range(panel.size.height)]


async def test_a_whole_jid_shows_in_a_wide_panel() -> None:
    """At the width the panel has in a 120-column terminal, a member without a nick shows
    its whole JID, and another member's last error shows whole too."""
    app = PanelApp()
    async with app.run_test(size=(96, 8)) as pilot:
        panel = app.query_one(ReadinessPanel)
        panel.set_members(
            [
                MemberReadiness(LONG, None, True, 1, 0, 0),
                MemberReadiness("carol@example.org", "carol", False, 0, 0, 0, ERROR),
            ]
        )
        await pilot.pause()
        lines = _lines(panel)
        assert any(LONG in line for line in lines)
        assert any(ERROR in line for line in lines)


async def test_a_narrow_panel_does_not_scroll_sideways() -> None:
    """At the width the panel has in an 80-column terminal, the columns fit: no sideways
    scrolling, the member column at least 12 wide."""
    app = PanelApp()
    async with app.run_test(size=(56, 8)) as pilot:
        panel = app.query_one(ReadinessPanel)
        panel.set_members([MemberReadiness(LONG, None, True, 1, 0, 0)])
        await pilot.pause()
        assert panel.virtual_size.width <= panel.size.width
        assert any(LONG[:MIN_MEMBER] in line for line in _lines(panel))


def test_a_narrow_panel_shares_the_width_by_the_texts_lengths() -> None:
    """Both fit: the member as long as its text, the rest to the error; neither fits: shared
    by their lengths, never under the minimums (a member column no wider than its texts)."""
    assert column_widths(60, 17, 10) == (17, 43)
    member, error = column_widths(30, 40, 20)
    assert (member, error) == (20, 10)
    assert column_widths(19, 17, 10) == (MIN_MEMBER, 7)  # 80 columns: no sideways scrolling
    assert column_widths(15, 40, 40) == (MIN_MEMBER, ERROR_FLOOR)
    assert column_widths(17, 7, 26) == (7, MIN_ERROR)  # short nicks keep their width
