"""Shared by the UI tests: a frozen app factory and ways to let the app settle."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from tests.fakes_ui import NOW, FakeService
from tui_omemo.ui.app import TuiOmemoApp
from tui_omemo.ui.clock import Clock

FRAME = 0.05
"""A little more than the longest UI timer that tests wait for (the log gathers for 1/60 s)."""

SIZE = (100, 32)
"""The terminal size of the pilot tests."""

SMALL = (80, 24)
"""The smallest common terminal: every snapshot and screenshot is taken at this size."""

LARGE = (200, 50)
"""A large terminal: one snapshot and screenshot per screen (`screens.LARGE_SHOTS`)."""


def make_app(service: FakeService | None = None, **options: object) -> TuiOmemoApp:
    """`TuiOmemoApp` on a `FakeService` with the clock stopped at `NOW` (UTC)."""
    return TuiOmemoApp(service or FakeService(), clock=Clock.frozen(NOW), **options)  # type: ignore[arg-type]


async def settle(pilot: Pilot[None], rounds: int = 4) -> None:
    """Let workers answer and the screen repaint; switch off every cursor blink."""
    for _ in range(rounds):
        await pilot.pause()
    await pilot.pause(FRAME)  # timers such as the message log's one-frame gathering
    for widget in pilot.app.screen.query("Input, TextArea"):
        if isinstance(widget, Input | TextArea):
            widget.cursor_blink = False
    await pilot.pause()
