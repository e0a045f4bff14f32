"""A TLS refusal shown in the first-run form points to the loopback-plaintext box: to tick it
when the server is this machine, else that only such a server can go without TLS."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from tests.fakes_ui import FakeService
from tests.ui.helpers import make_app, settle
from tests.ui.test_first_run_form import SMALL, _loopback
from tui_omemo.ui.screens.account import AccountForm, NewAccount

REFUSAL = "the server offered no TLS; refusing to log in or send anything over plaintext"


@pytest.mark.parametrize(
    ("server", "pointer"),
    [("127.0.0.1", "tick the plaintext box below"), ("", "only a server on this machine")],
)
async def test_a_tls_refusal_points_to_the_plaintext_box(server: str, pointer: str) -> None:
    """The refusal is shown whole, followed by what to do about it."""

    async def setup(_account: NewAccount) -> None:
        raise ConnectionError(REFUSAL)

    form = AccountForm(ask_passphrase=False, is_loopback=_loopback)
    app = make_app(FakeService(), setup=setup, account_form=form)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press(*"alice@example.org", "tab", *"pw", "tab", *server, "enter")
        await settle(pilot)
        shown = str(app.screen.query_one("#error", Static).render())
        assert REFUSAL in shown
        assert pointer in shown
