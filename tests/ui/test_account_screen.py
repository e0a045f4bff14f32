"""The account screen over `FakeService`: what it shows, what it sends, what it leaves alone."""

from __future__ import annotations

from textual.widgets import Button, Checkbox, Input, Static

from tests.fakes_ui import FakeService, fingerprint
from tests.ui.helpers import SIZE, make_app, settle
from tui_omemo.service.api import AccountChange, RefusedCertificate
from tui_omemo.ui.commands import ACTIONS
from tui_omemo.ui.dialogs.pin_certificate import PinCertificateDialog
from tui_omemo.ui.screens.account_edit import AccountEditScreen
from tui_omemo.ui.screens.roster import RosterScreen


async def test_f4_shows_this_device_and_ours_and_leaving_changes_nothing() -> None:
    """F4 opens the account screen with this device's id and grouped fingerprint and our other
    devices; the boxes hold the stored values; Esc goes back without a write (§3.11)."""
    service = FakeService()
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AccountEditScreen)
        facts = str(screen.query_one("#facts", Static).render())
        assert "This device: 1001" in facts
        assert fingerprint("alice@example.org", 1001)[:8] in facts
        assert "1002 phone" in facts
        assert screen.query_one("#label", Input).value == "laptop"
        assert screen.query_one("#password", Input).value == ""
        assert not screen.query_one("#plaintext", Checkbox).value
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, RosterScreen)
    assert not [call for call in service.calls if call[0] == "update_account"]
    assert any(action.action == "app.open_account" for action in ACTIONS)


async def test_only_what_was_edited_is_sent_and_a_refusal_is_shown() -> None:
    """A server the service refuses shows its reason and changes nothing; then only the edited
    label is sent, and the screen stays with the saved values."""
    service = FakeService()
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AccountEditScreen)
        screen.query_one("#server", Input).value = "xmpp.example.org:99999"
        screen.query_one("#server", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert "port must be a number" in str(screen.query_one("#error", Static).render())
        assert not [call for call in service.calls if call[0] == "update_account"]
        screen.query_one("#server", Input).value = ""
        screen.query_one("#label", Input).value = "desk"
        await pilot.press("enter")
        await settle(pilot)
        assert ("update_account", (AccountChange(label="desk"),)) in service.calls
        assert str(screen.query_one("#error", Static).render()) == ""
        assert app.screen is screen
        assert (await service.account()).label == "desk"


REFUSED = RefusedCertificate(
    "example.org",
    ":".join(["5C", "23"] * 16),
    "the certificate of example.org is not trusted: self-signed",
)


async def test_a_refused_certificate_is_pinned_only_after_the_ticked_confirmation() -> None:
    """After a login that refused a certificate, the screen names the problem and shows the
    fingerprint; "Pin this certificate…" opens a confirmation whose Pin stays off until the
    comparison is ticked, and cancelling sends nothing. Confirmed, exactly that fingerprint is
    stored; "Remove the pin" removes it again."""
    service = FakeService()
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = AccountEditScreen(service, "Login failed: …", REFUSED)
        await app.push_screen(screen)
        await settle(pilot)
        failure = str(screen.query_one("#failure", Static).render())
        assert failure == f"Login failed: {REFUSED.problem}."
        assert REFUSED.fingerprint[:47] in str(screen.query_one("#refused", Static).render())
        assert app.focused is screen.query_one("#pin")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PinCertificateDialog)
        assert app.screen.query_one("#confirm", Button).disabled
        await pilot.press("escape")
        await settle(pilot)
        assert not [call for call in service.calls if call[0] == "update_account"]

        screen.query_one("#pin", Button).press()
        await settle(pilot)
        app.screen.query_one("#same", Checkbox).value = True
        await settle(pilot)
        app.screen.query_one("#confirm", Button).press()
        await settle(pilot)
        assert app.screen is screen
        pinned = AccountChange(certificate_pin=REFUSED.fingerprint)
        updates = [call for call in service.calls if call[0] == "update_account"]
        assert updates == [("update_account", (pinned,))]
        assert (await service.account()).certificate_pin == REFUSED.fingerprint
        assert screen.query_one("#refused").has_class("-hidden")

        screen.query_one("#unpin", Button).press()
        await settle(pilot)
        assert ("update_account", (AccountChange(certificate_pin=""),)) in service.calls
        assert (await service.account()).certificate_pin is None
        assert "not pinned" in str(screen.query_one("#pin-state", Static).render())
        assert not screen.query_one("#pin").has_class("-hidden")
