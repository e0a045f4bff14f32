"""An unhandled exception in the app is reported without local variables: Textual would show
them (`show_locals`), and a frame may hold a key, the password or message text (DESIGN.md
§3.9)."""

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
