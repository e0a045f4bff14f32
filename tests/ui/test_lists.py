"""Pilot tests of moving through lists: the roster wraps from the last row to the first and
back; after a search, typing refines the query (the field keeps the focus) and Down moves into
the results."""

from __future__ import annotations

from textual.widgets import Input, OptionList

from tests.fakes_ui import FakeService
from tests.ui.helpers import SIZE, make_app, settle
from tui_omemo.ui.screens.search import SearchScreen
from tui_omemo.ui.widgets.roster_list import RosterList


async def test_the_roster_wraps_from_the_last_row_to_the_first(service: FakeService) -> None:
    """Down on the last row highlights the first; Up on the first, the last."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        roster = app.screen.query_one(RosterList)
        roster.focus()
        roster.highlighted = roster.option_count - 1
        await pilot.press("down")
        assert roster.highlighted == 0
        await pilot.press("up")
        assert roster.highlighted == roster.option_count - 1


async def test_after_enter_the_search_field_keeps_the_focus_and_down_enters_the_results(
    service: FakeService,
) -> None:
    """ "keys" Enter lists hits with the cursor still in the field; typing " and" refines the
    query; Down moves to the first hit."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+f")
        await settle(pilot)
        await pilot.press(*"keys", "enter")
        await settle(pilot)
        assert isinstance(app.screen, SearchScreen)
        query = app.screen.query_one("#query", Input)
        hits = app.screen.query_one("#hits", OptionList)
        assert hits.option_count > 0
        assert app.focused is query
        await pilot.press(*" all")
        assert query.value == "keys all"
        await pilot.press("down")
        assert app.focused is hits
        assert hits.highlighted == 0
