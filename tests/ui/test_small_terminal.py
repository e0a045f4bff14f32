"""Pilot tests of the screens at 80×24: the trust manager's rows become two-line cards that
keep the whole fingerprint, and the QR screen says how large the terminal must be instead of
showing a cut code, with the URI to copy."""

from __future__ import annotations

from textual.widgets import Static

from tests.fakes_ui import FakeService
from tests.ui.helpers import make_app, settle
from tui_omemo.ui.widgets.device_table import DeviceRow
from tui_omemo.ui.widgets.qr_code import QrCode

SMALL = (80, 24)
LARGE = (200, 50)


def row_lines(row: DeviceRow) -> list[str]:
    return str(row.render()).split("\n")


async def test_trust_rows_are_cards_with_the_whole_fingerprint_below_100_columns(
    service: FakeService,
) -> None:
    """At 80 columns each device is two lines, the second the whole fingerprint, and the
    column titles have no Fingerprint column; at 200 columns the rows are columns again."""
    app = make_app(service)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        rows = list(app.screen.query(DeviceRow))
        for row in rows:
            facts, whole = row_lines(row)
            assert whole.replace(" ", "") == row.device.fingerprint
            assert row.region.width <= SMALL[0]
            assert len(facts.rstrip()) <= row.content_region.width
        titles = str(app.screen.query_one("#columns", Static).render())
        assert "Fingerprint" not in titles
        await pilot.resize_terminal(*LARGE)
        await settle(pilot)
        assert "Fingerprint" in str(app.screen.query_one("#columns", Static).render())
        first = row_lines(rows[0])[0]
        assert rows[0].device.fingerprint[:8] in first


async def test_the_qr_screen_asks_for_a_larger_terminal_and_shows_the_uri(
    service: FakeService,
) -> None:
    """At 80×24 the QR code (which needs 30 rows) is hidden, a line says to enlarge the
    terminal to 81×30, and the URI is there to copy; at 200×50 the code shows."""
    app = make_app(service)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+o")
        await settle(pilot)
        note = app.screen.query_one("#qr-too-small", Static)
        assert app.screen.query_one(QrCode).has_class("-hidden")
        assert "enlarge the terminal to 81×30 to scan it" in str(note.render())
        assert "omemo-sid-1001=" in str(app.screen.query_one("#uri", Static).render())
        await pilot.resize_terminal(*LARGE)
        await settle(pilot)
        assert not app.screen.query_one(QrCode).has_class("-hidden")
        assert note.has_class("-hidden")
