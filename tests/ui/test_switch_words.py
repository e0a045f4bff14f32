"""Switches say their state in words ("on"/"off" beside each, following every change), and
the BTBV explanation is shown once: in Settings, while the trust manager points there."""

from __future__ import annotations

from textual.widgets import Static, Switch

from tests.fakes_ui import FakeService
from tests.ui.helpers import SIZE, make_app, settle
from tui_omemo.ui.screens.settings import SettingsScreen
from tui_omemo.ui.screens.trust import BTBV_SENTENCE, TrustScreen


def _texts(screen: object) -> list[str]:
    return [str(w.render()) for w in screen.query(Static)]  # type: ignore[attr-defined]


async def test_settings_switches_carry_on_off_words(service: FakeService) -> None:
    """Each switch in Settings has its word; toggling one changes it; the BTBV sentence is
    there once."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        switches = list(screen.query(Switch))
        assert switches
        for switch in switches:
            word = screen.query_one(f"#{switch.id}-word", Static)
            assert str(word.render()) == ("on" if switch.value else "off")
        switch = screen.query_one("#value-add_body_hint", Switch)
        switch.toggle()
        await settle(pilot)
        assert str(screen.query_one("#value-add_body_hint-word", Static).render()) == "off"
        assert sum(BTBV_SENTENCE in text for text in _texts(screen)) == 1


async def test_the_trust_manager_switch_says_on_or_off_and_points_to_settings(
    service: FakeService,
) -> None:
    """BTBV is on: the word says so; switched off, it says off; the explanation itself is
    not repeated here."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(TrustScreen(app.service, app.clock))
        await settle(pilot)
        screen = app.screen
        word = screen.query_one("#btbv-word", Static)
        assert str(word.render()) == "on"
        screen.query_one("#btbv", Switch).toggle()
        await settle(pilot)
        assert str(word.render()) == "off"
        assert not any(BTBV_SENTENCE in text for text in _texts(screen))
        assert any("F2 Settings" in text for text in _texts(screen))
