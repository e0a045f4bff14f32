"""Side doors of the app: an unhandled exception is reported without local variables (Textual
would show them, and a frame may hold a key, the password or message text), and the command
palette offers no "Screenshot" (an SVG of the decrypted conversation, readable by others)
(DESIGN.md §3.9, §3.13)."""

from __future__ import annotations

import pytest

from tui_omemo.service.api import ChatService
from tui_omemo.ui.app import TuiOmemoApp

SECRET = "hunter2-in-a-local-variable"


class CrashingApp(TuiOmemoApp):
    """The real app, with a handler that fails while a secret is in one of its locals."""

    def on_mount(self) -> None:
        password = SECRET
        raise RuntimeError(f"failed after reading {len(password)} characters")


async def _never(_report: object) -> ChatService:
    raise AssertionError("not reached")


async def test_crash_report_shows_the_traceback_but_no_locals(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The report names the exception and the failing line; the local holding the secret is
    not in it."""
    app = CrashingApp(connect=_never)
    with pytest.raises(RuntimeError, match="failed after reading"):
        async with app.run_test():
            pass
    err = capsys.readouterr().err
    assert "RuntimeError" in err
    assert "raise RuntimeError" in err
    assert SECRET not in err


class IdleApp(TuiOmemoApp):
    """The real app, not connecting anywhere."""

    def on_mount(self) -> None:
        pass


async def test_palette_offers_no_screenshot() -> None:
    """Textual's system commands are offered, except the one writing a screenshot file."""
    app = IdleApp(connect=_never)
    async with app.run_test():
        titles = [command.title for command in app.get_system_commands(app.screen)]
    assert "Quit" in titles
    assert "Screenshot" not in titles
