"""The certificate pin in the real app: a first run against a server with a self-signed
certificate (the TLS Prosody fixture) is refused with the certificate's fingerprint, and the
account screen pins it only after the user compared it and confirmed; then the login works.

Nothing here is a fake: the app is the one `tui-omemo` builds, over a real SQLCipher profile
and Prosody with a self-signed certificate made at test time; the store is read to check what
was (not) pinned.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Button, Checkbox, Static

from tests.cli.conftest import DictKeyring
from tests.prosody import TLS_SELF_SIGNED, TlsProsody
from tests.ui.test_pilot_prosody import keyring_console, real_app, service_of, until
from tui_omemo.commands.security import CERTIFICATE_PIN
from tui_omemo.store import KeyringKeys, open_profile
from tui_omemo.ui.dialogs.pin_certificate import PinCertificateDialog
from tui_omemo.ui.screens.account import AccountScreen
from tui_omemo.ui.screens.account_edit import AccountEditScreen
from tui_omemo.ui.screens.progress import ProgressScreen
from tui_omemo.ui.screens.roster import RosterScreen

pytestmark = [pytest.mark.prosody, pytest.mark.slow]


async def test_refused_certificate_is_pinned_only_by_the_confirmed_act(
    prosody_tls: TlsProsody, tmp_path: Path
) -> None:
    """First run at a self-signed server: the login is refused with the certificate's SHA-256
    on screen; the account screen shows it (pairs as the CLI prints them) with the instruction
    to compare it. Leaving the screen, and cancelling the confirmation, pin nothing (store
    read). "Pin this certificate…", ticked and confirmed, stores exactly that fingerprint, and
    "Save and log in" then logs in."""
    jid, password = prosody_tls.create_account(TLS_SELF_SIGNED)
    sha256 = prosody_tls.certificates[TLS_SELF_SIGNED].sha256
    profile, keys = tmp_path / "profile", DictKeyring()

    def stored_pin() -> object:
        with open_profile(profile, KeyringKeys(keys), None) as db, db.snapshot() as uow:
            return uow.settings.get(CERTIFICATE_PIN)

    async with real_app(profile, keyring_console(keys)) as (app, pilot):
        await until(pilot, lambda: isinstance(app.screen, AccountScreen), "the first-run form")
        server = f"{prosody_tls.server.host}:{prosody_tls.server.port}"
        await pilot.press(*jid, "tab", *password, "tab", *server)
        await pilot.click("#add")
        await until(pilot, lambda: login_refused(app), "the login refused")
        progress = app.screen  # not before: under load the form was still on top here
        assert isinstance(progress, ProgressScreen)
        words = str(progress.query_one("#error", Static).render())
        assert f"the certificate of {TLS_SELF_SIGNED} is not trusted: self-signed" in words
        assert sha256 in words
        assert "a: compare and pin" in str(progress.query_one("#retry", Static).render())

        editor = await open_account_screen(pilot)
        failure = str(editor.query_one("#failure", Static).render())
        assert (
            failure
            == f"Login failed: the certificate of {TLS_SELF_SIGNED} is not trusted: self-signed."
        )
        refused = str(editor.query_one("#refused", Static).render())
        assert sha256[:47] in refused  # two lines of 16 pairs
        assert sha256[48:] in refused
        assert "server's admin" in refused
        assert "not pinned" in str(editor.query_one("#pin-state", Static).render())
        await pilot.press("escape")  # leaving: nothing pinned, nothing tried
        await until(pilot, lambda: app.screen is progress, "back at the failed login")
        assert stored_pin() is None

        editor = await open_account_screen(pilot)
        editor.query_one("#pin", Button).press()
        await until(pilot, lambda: isinstance(app.screen, PinCertificateDialog), "confirm")
        assert app.screen.query_one("#confirm", Button).disabled  # not before the tick
        await pilot.press("escape")  # cancelled: nothing pinned
        await until(pilot, lambda: app.screen is editor, "back at the account screen")
        assert stored_pin() is None

        editor.query_one("#pin", Button).press()
        await until(pilot, lambda: isinstance(app.screen, PinCertificateDialog), "confirm")
        app.screen.query_one("#same", Checkbox).value = True
        await until(pilot, lambda: not app.screen.query_one("#confirm").disabled, "Pin on")
        app.screen.query_one("#confirm", Button).press()
        await until(pilot, lambda: editor.query_one("#pin").has_class("-hidden"), "pinned")
        assert stored_pin() == sha256
        assert app.screen is editor
        assert app.focused is editor.query_one("#save")
        await pilot.press("enter")  # Save and log in
        await until(pilot, lambda: isinstance(app.screen, RosterScreen), "the roster")
        assert service_of(app).own_jid == jid


async def open_account_screen(pilot: Pilot[None]) -> AccountEditScreen:
    """`a` on the failed login's progress screen, until the account is read."""
    app = pilot.app
    await pilot.press("a")
    await until(pilot, lambda: isinstance(app.screen, AccountEditScreen), "the account screen")
    editor = app.screen
    assert isinstance(editor, AccountEditScreen)
    await until(pilot, lambda: editor.info is not None, "the account read")
    return editor


def login_refused(app: App[None]) -> bool:
    """Whether the screen on top is a progress screen whose login failed (taken each time:
    the screen on top right after the click may be the form, or a progress screen that
    another replaces)."""
    return isinstance(app.screen, ProgressScreen) and app.screen.failed
