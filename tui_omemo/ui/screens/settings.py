"""`SettingsScreen`: every option with its one-line explanation; Enter saves one.

Values are edited as text (true/false, numbers, btbv/manual) and go through
`service.update_setting`; a refused value shows the service's reason under the option.
"""

from __future__ import annotations

import dataclasses

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Footer, Input, Label, Static

from tui_omemo.config import SETTINGS_HELP, Settings
from tui_omemo.service.api import ChatService
from tui_omemo.ui.screens.base import ServiceScreen


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


class SettingsScreen(ServiceScreen):
    """The OMEMO options of DESIGN.md §4."""

    def __init__(self, service: ChatService) -> None:
        super().__init__()
        self._service = service

    def compose(self) -> ComposeResult:
        yield Static("Settings  (Enter saves an option)", classes="title")
        with VerticalScroll(id="options"):
            for name, explanation in SETTINGS_HELP.items():
                with Vertical(classes="option", id=f"option-{name}"):
                    yield Label(name, classes="option-name")
                    yield Static(explanation, classes="option-help", markup=False)
                    yield Input(id=f"value-{name}", classes="option-value")
                    yield Static("", classes="error", id=f"error-{name}", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self._load()

    @work(exit_on_error=False, group="settings", exclusive=True, description="load settings")
    async def _load(self) -> None:
        self.show_settings(await self._service.settings())

    def show_settings(self, settings: Settings) -> None:
        """Put every current value in its box."""
        for spec in dataclasses.fields(settings):
            self.query_one(f"#value-{spec.name}", Input).value = _text(getattr(settings, spec.name))

    @on(Input.Submitted, ".option-value")
    def _submitted(self, event: Input.Submitted) -> None:
        assert event.input.id is not None
        self._save(event.input.id.removeprefix("value-"), event.value)

    @work(exit_on_error=False, group="settings-save", description="save setting")
    async def _save(self, name: str, value: str) -> None:
        error = self.query_one(f"#error-{name}", Static)
        try:
            settings = await self._service.update_setting(name, value)
        except ValueError as problem:
            error.update(str(problem))
            self.query_one(f"#option-{name}").set_class(True, "-error")
            return
        error.update("")
        self.query_one(f"#option-{name}").set_class(False, "-error")
        self.show_settings(settings)
        self.notify(f"{name} saved", markup=False)
