"""Pilot tests of the first-run form as a person meets it: the plaintext-on-loopback box is
always there (disabled, with the reason, until the server is this machine), Enter submits, a
short passphrase is refused with the reason, the form says how to quit, and a key typed right
after Tab lands in the next field."""

from __future__ import annotations

from textual import events
from textual.widgets import Checkbox, Input, Static

from tests.fakes_ui import FakeService
from tests.ui.helpers import make_app, settle
from tui_omemo.ui.app import TuiOmemoApp
from tui_omemo.ui.screens.account import AccountForm, AccountScreen, NewAccount

SMALL = (80, 24)


def _loopback(jid: str, server: str | None) -> bool:
    return (server or jid.rsplit("@", maxsplit=1)[-1]) in ("127.0.0.1", "localhost")


def form_app(entered: list[NewAccount], *, ask_passphrase: bool = False) -> TuiOmemoApp:
    async def setup(account: NewAccount) -> None:
        entered.append(account)
        raise ValueError("stopped by the test")

    form = AccountForm(ask_passphrase=ask_passphrase, is_loopback=_loopback)
    return make_app(FakeService(), setup=setup, account_form=form)


async def test_a_key_typed_right_after_tab_lands_in_the_next_field() -> None:
    """Tab and the next keys arriving together (a fast typist, a slow link): the keys after
    Tab go to the field Tab moved to."""
    app = form_app([])
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        for key, character in (("a", "a"), ("tab", "\t"), ("x", "x"), ("tab", "\t"), ("1", "1")):
            app.post_message(events.Key(key, character))
        await settle(pilot)
        values = [
            app.screen.query_one(f"#{name}", Input).value for name in ("jid", "password", "server")
        ]
        assert values == ["a", "x", "1"]


async def test_the_plaintext_box_is_shown_disabled_with_the_reason_until_loopback() -> None:
    """Before anything is typed the box is there, disabled, saying why; a loopback server
    enables it and says what it means."""
    app = form_app([])
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        screen = app.screen
        box = screen.query_one("#plaintext", Checkbox)
        why = screen.query_one("#plaintext-why", Static)
        assert box.display
        assert box.disabled
        assert "Only for a server on this machine" in str(why.render())
        await pilot.press(*"alice@example.org", "tab", *"pw", "tab", *"127.0.0.1")
        await settle(pilot)
        assert not box.disabled
        assert "on this machine" in str(why.render())


async def test_enter_submits_and_a_short_passphrase_is_refused_with_the_reason() -> None:
    """Enter in the last field submits; a 7-character passphrase is refused (saying 8), an
    8-character one goes through; the form says how to quit."""
    entered: list[NewAccount] = []
    app = form_app(entered, ask_passphrase=True)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AccountScreen)
        assert any("Ctrl+Q quits" in str(s.render()) for s in screen.query(Static))
        await pilot.press(*"alice@example.org", "tab", *"pw", "tab", "tab")
        await pilot.press(*"1234567", "tab", *"1234567", "enter")
        await settle(pilot)
        assert "at least 8 characters" in str(screen.query_one("#error", Static).render())
        assert entered == []
        screen.query_one("#passphrase", Input).value = "12345678"
        screen.query_one("#passphrase2", Input).value = "12345678"
        screen.query_one("#passphrase2", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert [account.passphrase for account in entered] == ["12345678"]
