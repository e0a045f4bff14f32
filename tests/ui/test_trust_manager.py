"""Pilot tests of the device trust manager: grouping by account, a cursor that moves over
devices only, bulk decisions per contact behind a confirmation, and removing stale own devices
after a preview."""

from __future__ import annotations

import dataclasses

from textual.widgets import Static

from tests.fakes_ui import BOB, CAROL, ERIN, OWN, FakeService
from tests.ui.helpers import SIZE, make_app, settle
from tui_omemo.model import TrustLevel
from tui_omemo.ui.dialogs.devices_confirm import DevicesConfirmDialog
from tui_omemo.ui.screens.trust import TrustScreen
from tui_omemo.ui.widgets.device_table import DeviceTable


def trust_calls(service: FakeService) -> list[tuple[object, ...]]:
    return [args for name, args in service.calls if name == "set_trust"]


async def test_own_devices_first_then_one_header_per_contact(service: FakeService) -> None:
    """Headers name each account once, own first, with its devices counted by trust state."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        table = app.screen.query_one(DeviceTable)
        headers = [str(h.render()) for h in table.query(".device-header").results(Static)]
        assert [h.split()[0] for h in headers] == [OWN, BOB, CAROL, ERIN]
        assert "(you)" in headers[0]
        assert "3 devices: 1 verified, 2 undecided" in headers[1]
        assert [d.bare_jid for d in table.ordered[:3]] == [OWN] * 3
        assert table.ordered[0].this_device


async def test_the_cursor_moves_over_devices_and_jumps_between_contacts(
    service: FakeService,
) -> None:
    """Down goes from device to device across headers; ] and [ go to the next and previous
    account's first device."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        table = app.screen.query_one(DeviceTable)
        assert table.current is not None
        assert (table.current.bare_jid, table.current.device_id) == (OWN, 1001)
        await pilot.press("down", "down", "down")
        assert table.current is not None
        assert (table.current.bare_jid, table.current.device_id) == (BOB, 2001)
        await pilot.press("right_square_bracket")
        assert table.current is not None
        assert table.current.bare_jid == CAROL
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert table.current is not None
        assert table.current.bare_jid == OWN


async def test_distrust_all_undecided_of_a_contact_only_after_confirming(
    service: FakeService,
) -> None:
    """Shift+D on Bob lists his two undecided devices; Cancel changes nothing, confirming
    distrusts exactly those two (not his verified one)."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        await pilot.press("right_square_bracket", "D")
        await settle(pilot)
        assert isinstance(app.screen, DevicesConfirmDialog)
        listing = str(app.screen.query_one("#device-listing", Static).render())
        assert "2002" in listing
        assert "2003" in listing
        assert "2001" not in listing
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, TrustScreen)
        assert trust_calls(service) == []
        await pilot.press("D")
        await settle(pilot)
        await pilot.click("#confirm")
        await settle(pilot)
        assert trust_calls(service) == [
            (BOB, 2002, TrustLevel.DISTRUSTED),
            (BOB, 2003, TrustLevel.DISTRUSTED),
        ]
        bob = [d for d in app.screen.query_one(DeviceTable).ordered if d.bare_jid == BOB]
        assert [d.trust for d in bob] == [
            TrustLevel.VERIFIED,
            TrustLevel.DISTRUSTED,
            TrustLevel.DISTRUSTED,
        ]


async def test_blind_trust_all_with_nothing_undecided_asks_nothing(service: FakeService) -> None:
    """Carol has no undecided device: Shift+B opens no dialog and decides nothing."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        await pilot.press("right_square_bracket", "right_square_bracket", "B")
        await settle(pilot)
        assert isinstance(app.screen, TrustScreen)
        assert trust_calls(service) == []


async def test_stale_own_devices_are_removed_after_the_preview(service: FakeService) -> None:
    """x previews our device silent for 40 days; confirming removes it and only it."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, DevicesConfirmDialog)
        assert "1003" in str(app.screen.query_one("#device-listing", Static).render())
        assert not [c for c in service.calls if c[0] == "remove_own_devices"]
        await pilot.click("#confirm")
        await settle(pilot)
        assert ("remove_own_devices", ((1003,),)) in service.calls
        table = app.screen.query_one(DeviceTable)
        assert [d.device_id for d in table.ordered if d.own] == [1001, 1002]


async def test_this_device_gets_no_decision(service: FakeService) -> None:
    """v on our own running device (first row) records nothing."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        assert trust_calls(service) == []


async def test_the_palette_offers_the_trust_managers_actions(service: FakeService) -> None:
    """Ctrl+P on the trust manager finds "Distrust all undecided of this contact" and runs
    it on the screen: the confirmation for Bob's undecided devices opens."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        await pilot.press("right_square_bracket", "ctrl+p")
        await settle(pilot)
        await pilot.press(*"distrust all undecided")
        await settle(pilot, 8)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DevicesConfirmDialog)
        assert "bob@example.org" in str(app.screen.query_one("#device-listing", Static).render())
        assert trust_calls(service) == []


class MarkupLabels(FakeService):
    """Bob's devices carry labels with markup and control characters in them."""

    async def devices(self, bare_jid: str | None = None):  # type: ignore[no-untyped-def]
        found = await super().devices(bare_jid)
        return [
            dataclasses.replace(d, label="[@click=app.quit]evil[/]\x1b[31m\u202e")
            if d.bare_jid == BOB
            else d
            for d in found
        ]


async def test_device_labels_are_shown_as_text() -> None:
    """A label holding Textual markup, an ANSI escape and a bidi override is shown literally
    (markup visible, controls neutralised), in the table and in the confirmation."""
    service = MarkupLabels()
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        table = app.screen.query_one(DeviceTable)
        rows = [str(r.render()) for r in table.query(".device-row").results(Static)]
        bob_rows = [row for row in rows if row.startswith("200")]
        assert len(bob_rows) == 3
        assert all("[@click=app" in row for row in bob_rows)  # the column cuts the rest
        assert not any("\x1b" in row or "\u202e" in row for row in rows)
        await pilot.press("right_square_bracket", "D")
        await settle(pilot)
        listing = str(app.screen.query_one("#device-listing", Static).render())
        assert "[@click=app.quit]evil" in listing
        assert "\x1b" not in listing
        assert app.is_running
