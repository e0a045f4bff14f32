"""Pilot tests of the settings screen: each option has the widget its type wants, a switch or a
choice saves through `update_setting`, and a bad number is explained and not saved."""

from __future__ import annotations

from textual.widgets import Input, Select, Static, Switch

from tests.fakes_ui import FakeService
from tests.ui.helpers import SIZE, make_app, settle
from tui_omemo.config import SETTINGS_HELP
from tui_omemo.ui.screens.settings import NUMBER_PROBLEM, SettingsScreen, option_specs
from tui_omemo.ui.screens.trust import BTBV_SENTENCE


def updates(service: FakeService) -> list[tuple[object, ...]]:
    return [args for name, args in service.calls if name == "update_setting"]


async def test_every_option_has_the_widget_of_its_type(service: FakeService) -> None:
    """Booleans are switches, trust_mode a select, hour counts inputs; all show the stored
    value and their explanation, and the trust mode also explains BTBV."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        assert screen.query_one("#value-add_body_hint", Switch).value is True
        assert screen.query_one("#value-repair_broken_sessions", Switch).value is False
        assert screen.query_one("#value-trust_mode", Select).value == "btbv"
        assert screen.query_one("#value-stale_after_hours", Input).value == "168"
        helps = [str(w.render()) for w in screen.query(".option-help").results(Static)]
        assert all(any(line in text for text in helps) for line in SETTINGS_HELP.values())
        assert BTBV_SENTENCE in helps
        assert updates(service) == []


async def test_a_switch_and_a_choice_save_at_once(service: FakeService) -> None:
    """Toggling a switch and choosing manual trust reach the service as text values."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)
        app.screen.query_one("#value-repair_broken_sessions", Switch).toggle()
        app.screen.query_one("#value-trust_mode", Select).value = "manual"
        await settle(pilot)
        assert updates(service) == [
            ("repair_broken_sessions", "on"),
            ("trust_mode", "manual"),
        ]
        settings = await service.settings()
        assert settings.repair_broken_sessions
        assert settings.trust_mode == "manual"


async def test_an_invalid_number_is_explained_and_not_saved(service: FakeService) -> None:
    """0 hours is refused in words under the option and update_setting is never called;
    a valid number then saves and clears the message."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)
        box = app.screen.query_one("#value-delete_stale_after_hours", Input)
        box.focus()
        box.value = ""
        await pilot.press("0", "enter")
        await settle(pilot)
        error = app.screen.query_one("#error-delete_stale_after_hours", Static)
        assert str(error.render()) == NUMBER_PROBLEM
        assert not error.has_class("-hidden")
        assert updates(service) == []
        await pilot.press("backspace", *"48", "enter")
        await settle(pilot)
        assert updates(service) == [("delete_stale_after_hours", "48")]
        assert error.has_class("-hidden")
        assert (await service.settings()).delete_stale_after_hours == 48


class RefusingService(FakeService):
    """A service that refuses every change, as a real one would refuse a bad value."""

    async def update_setting(self, key: str, value: str):  # type: ignore[no-untyped-def]
        self._record("update_setting", key, value)
        raise ValueError(f"{key} cannot be changed now")


async def test_a_refused_switch_goes_back_and_says_why() -> None:
    """The service's refusal is shown under the option and the switch shows the stored value."""
    service = RefusingService()
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)
        switch = app.screen.query_one("#value-add_body_hint", Switch)
        switch.toggle()
        await settle(pilot)
        assert updates(service) == [("add_body_hint", "off")]
        assert switch.value is True
        error = str(app.screen.query_one("#error-add_body_hint", Static).render())
        assert "cannot be changed now" in error
        assert "nothing was saved" in error


def test_option_kinds_come_from_the_settings_types() -> None:
    """Every option of Settings is listed once, in order; trust_mode's choices are its Literal."""
    specs = option_specs()
    assert [spec.name for spec in specs] == list(SETTINGS_HELP)
    kinds = {spec.name: (spec.kind, spec.choices) for spec in specs}
    assert kinds["trust_mode"] == (str, ("btbv", "manual"))
    assert kinds["add_body_hint"] == (bool, ())
    assert kinds["signed_prekey_keep"] == (int, ())


async def test_opening_and_leaving_settings_writes_nothing(service: FakeService) -> None:
    """Looking changes nothing (DESIGN.md §3.11): with manual trust and every switch away
    from its default stored, opening Settings and leaving it calls `update_setting` never and
    the stored values stay (the select's own announcement of its first choice as it mounts
    once switched trust back to BTBV)."""
    for key, value in (
        ("trust_mode", "manual"),
        ("add_body_hint", "off"),
        ("repair_broken_sessions", "on"),
        ("stale_after_hours", "5"),
    ):
        await service.update_setting(key, value)
    stored = await service.settings()
    service.calls.clear()
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for _ in range(3):
            await pilot.press("f2")
            await settle(pilot)
            assert app.screen.query_one("#value-trust_mode", Select).value == "manual"
            await pilot.press("escape")
            await settle(pilot)
    assert updates(service) == []
    assert await service.settings() == stored


def test_option_titles_are_words_without_setting_keys() -> None:
    """Titles and explanations read as words: a unit keeps its spelling ("MiB", not "mib") and
    no explanation names another option by its key (`stale_after_hours`)."""
    titles = {spec.name: spec.title for spec in option_specs()}
    assert titles["auto_download_max_mib"] == "Auto download max MiB"
    assert titles["stale_after_hours"] == "Stale after hours"
    keys = [name for name in SETTINGS_HELP if "_" in name]  # "show" is also a word
    assert not any(key in text for text in SETTINGS_HELP.values() for key in keys)
