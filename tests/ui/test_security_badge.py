"""A contact none of whose devices may receive our messages is never shown as "verified": the
roster row, the chat header badge and the banner all say that no device is trusted."""

from __future__ import annotations

from textual.widgets import Static

from tests.fakes_ui import CAROL, FakeService
from tests.ui.helpers import SIZE, make_app, settle
from tui_omemo.model import TrustLevel
from tui_omemo.ui.screens.chat import ChatScreen
from tui_omemo.ui.widgets.banner import SecurityBanner
from tui_omemo.ui.widgets.roster_list import RosterList


def _row(app_roster: RosterList, jid: str) -> str:
    rows = (str(app_roster.get_option_at_index(i).prompt) for i in range(app_roster.option_count))
    return next(row for row in rows if jid in row)


async def test_distrusting_the_only_device_replaces_verified_everywhere() -> None:
    """Carol's one device is verified: "[verified]". Distrusted: the roster row says
    "[no trusted device]" (not "verified"), and her chat shows that badge in its error colour
    class and a banner saying messages cannot reach her."""
    service = FakeService()
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        roster = app.screen.query_one(RosterList)
        assert "[verified]" in _row(roster, CAROL)
        await service.set_trust(CAROL, 3001, TrustLevel.DISTRUSTED)
        await settle(pilot)
        row = _row(roster, CAROL)
        assert "[no trusted device]" in row
        assert "verified" not in row
        app.open_chat(CAROL)
        await settle(pilot)
        assert isinstance(app.screen, ChatScreen)
        badge = app.screen.query_one("#badge", Static)
        assert str(badge.render()) == "no trusted device"
        assert badge.has_class("-no_trusted_device")
        assert not badge.has_class("-all_verified")
        banner = str(app.screen.query_one(SecurityBanner).render())
        assert "No device of Carol is trusted" in banner
