"""Pilot tests of verification as a deliberate act: `v` opens a compare step, `d` asks, each
act ends in one toast; a pasted URI whose key differs is a red warning naming the device and
the groups; full device ids; the security timeline's times, whole details and new kinds."""

from __future__ import annotations

import dataclasses

from textual import events
from textual.widgets import Button, Checkbox, Input, OptionList, Static

from tests.fakes_ui import BOB, NOW, FakeService, fingerprint
from tests.ui.helpers import SIZE, make_app, settle
from tui_omemo.events import SecurityEvent, SecurityEventKind
from tui_omemo.model import TrustLevel
from tui_omemo.service.api import SecurityEventRaised
from tui_omemo.ui.app import TuiOmemoApp
from tui_omemo.ui.dialogs.devices_confirm import DevicesConfirmDialog
from tui_omemo.ui.dialogs.trust_uri import TrustUriDialog
from tui_omemo.ui.dialogs.verify_device import VerifyDeviceDialog
from tui_omemo.ui.widgets.device_table import DeviceRow, DeviceTable


def trust_calls(service: FakeService) -> list[tuple[object, ...]]:
    return [args for name, args in service.calls if name == "set_trust"]


def emitting_trust_changes(service: FakeService) -> FakeService:
    """`set_trust` also raises the TRUST_CHANGED security event, as the real service does."""
    plain = service.set_trust

    async def set_trust(bare_jid: str, device_id: int, level: TrustLevel) -> None:
        await plain(bare_jid, device_id, level)
        detail = f"device {device_id} of {bare_jid} is now {level.value}"
        event = SecurityEvent(SecurityEventKind.TRUST_CHANGED, bare_jid, device_id, detail)
        service.emit(SecurityEventRaised(event))

    service.set_trust = set_trust  # type: ignore[method-assign]
    return service


def toasts(app: TuiOmemoApp) -> list[str]:
    return [notification.message for notification in app._notifications]


async def on_device(app: TuiOmemoApp, pilot: object, device_id: int) -> DeviceTable:
    await pilot.press("ctrl+t")  # type: ignore[attr-defined]
    await settle(pilot)  # type: ignore[arg-type]
    table = app.screen.query_one(DeviceTable)
    table.move_cursor(row=next(i for i, d in enumerate(table.ordered) if d.device_id == device_id))
    return table


async def test_v_opens_the_compare_step_and_verifies_only_after_confirming(
    service: FakeService,
) -> None:
    """v on Bob's 2002 shows its fingerprint in 8 groups beside the instruction; Verify is off
    until "all groups match" is ticked; Escape records nothing; confirming records VERIFIED and
    says so in exactly one toast (the security event it raises adds none)."""
    app = make_app(emitting_trust_changes(service))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await on_device(app, pilot, 2002)
        await pilot.press("v")
        await settle(pilot)
        assert isinstance(app.screen, VerifyDeviceDialog)
        shown = str(app.screen.query_one("#compare-fingerprint", Static).render())
        print_ = fingerprint(BOB, 2002)
        for index in range(8):
            assert f"{index + 1}:{print_[index * 8 : index * 8 + 8]}" in shown
        assert any("On the contact's device" in str(s.render()) for s in app.screen.query(Static))
        assert app.screen.query_one("#verify", Button).disabled
        await pilot.press("escape")
        await settle(pilot)
        assert trust_calls(service) == []
        before = len(toasts(app))
        await pilot.press("v")
        await settle(pilot)
        app.screen.query_one("#match", Checkbox).value = True
        await settle(pilot)
        await pilot.click("#verify")
        await settle(pilot)
        assert trust_calls(service) == [(BOB, 2002, TrustLevel.VERIFIED)]
        new = toasts(app)[before:]
        assert len(new) == 1, new
        assert "device 2002: verified" in new[0]


async def test_verifying_a_verified_device_says_already_verified(service: FakeService) -> None:
    """v on Bob's verified 2001 opens nothing and records nothing: "already verified"."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await on_device(app, pilot, 2001)
        await pilot.press("v")
        await settle(pilot)
        assert not isinstance(app.screen, VerifyDeviceDialog)
        assert trust_calls(service) == []
        assert any("2001 is already verified" in t for t in toasts(app))


async def test_d_asks_before_distrusting(service: FakeService) -> None:
    """d on Bob's 2002 asks; Cancel records nothing, confirming records DISTRUSTED."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await on_device(app, pilot, 2002)
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, DevicesConfirmDialog)
        await pilot.click("#cancel")
        await settle(pilot)
        assert trust_calls(service) == []
        await pilot.press("d")
        await settle(pilot)
        await pilot.click("#confirm")
        await settle(pilot)
        assert trust_calls(service) == [(BOB, 2002, TrustLevel.DISTRUSTED)]


async def test_a_uri_with_a_different_key_is_a_red_warning_naming_device_and_groups(
    service: FakeService,
) -> None:
    """A URI whose key for 2002 differs in groups 2 and 7 warns in red about device 2002 and
    those groups, and (as nothing else would change) Verify stays off even when confirmed."""
    right = fingerprint(BOB, 2002)
    wrong = right[:8] + "0" * 8 + right[16:48] + "f" * 8 + right[56:]
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+o")
        await settle(pilot)
        app.screen.query_one("#paste", Input).value = f"xmpp:{BOB}?omemo-sid-2002={wrong}"
        app.screen.query_one("#paste", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TrustUriDialog)
        warning = app.screen.query_one(".uri-warning", Static)
        words = str(warning.render())
        assert "device 2002 of bob@example.org has a different key" in words
        assert "groups 2, 7 of 8 differ" in words
        assert warning.has_class("error")
        app.screen.query_one("#confirm", Checkbox).value = True
        await settle(pilot)
        assert app.screen.query_one("#verify", Button).disabled


async def test_a_uri_summary_counts_verified_and_already_verified(service: FakeService) -> None:
    """Applying a URI with 2001 (verified) and 2002 (undecided) says one was verified and one
    was already verified."""
    uri = (
        f"xmpp:{BOB}?omemo-sid-2001={fingerprint(BOB, 2001)};"
        f"omemo-sid-2002={fingerprint(BOB, 2002)}"
    )
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+o")
        await settle(pilot)
        app.screen.query_one("#paste", Input).value = uri
        app.screen.query_one("#paste", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert "already verified" in str(app.screen.query_one("#preview", Static).render())
        app.screen.query_one("#confirm", Checkbox).value = True
        await settle(pilot)
        await pilot.click("#verify")
        await settle(pilot)
        assert any(
            "1 device(s) of bob@example.org verified; 1 already verified" in t for t in toasts(app)
        )


async def test_device_rows_show_the_full_id_and_the_trust_in_words(service: FakeService) -> None:
    """A ten-digit device id is shown whole, and every row names its trust state."""
    service._devices.append(
        dataclasses.replace(service._devices[-1], device_id=2147483647, trust=TrustLevel.UNDECIDED)
    )
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        rows = list(app.screen.query(DeviceRow))
        assert any("2147483647 " in str(row.render()) for row in rows)
        words = ("verified", "blind", "undecided", "distrusted")
        assert all(any(w in str(row.render()) for w in words) for row in rows)


async def test_security_events_show_time_whole_detail_and_new_kinds(
    service: FakeService,
) -> None:
    """Each event shows its time; a long detail is there whole (wrapped, not cut); a trust-mode
    change and a removed device have their own words."""
    long = "a detail long enough to reach past the right edge " * 3 + "END"
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        for kind, detail in (
            (SecurityEventKind.TRUST_MODE_CHANGED, "the trust mode is now manual trust"),
            (SecurityEventKind.DEVICE_REMOVED, long),
        ):
            service.emit(SecurityEventRaised(SecurityEvent(kind, BOB, 2003, detail)))
        await settle(pilot)
        listing = app.screen.query_one("#events", OptionList)
        top = str(listing.get_option_at_index(0).prompt)
        second = str(listing.get_option_at_index(1).prompt)
        assert top.startswith(NOW.strftime("%Y-%m-%d %H:%M:%S"))
        assert "device removed" in top
        assert "device 2003" in top
        assert long in top
        assert "trust mode" in second
        assert "END" in app.export_screenshot()  # wrapped onto the screen, not cut


async def test_the_uri_preview_starts_on_its_box_so_the_keys_of_the_compare_step_verify(
    service: FakeService,
) -> None:
    """The preview of a pasted URI has its "trusted channel" box focused, as the compare step
    has its box: Space, Tab, Tab, Enter verifies in both (the preview's scroll area had the
    focus, so the same keys ended on Cancel and nothing was verified, silently)."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+o")
        await settle(pilot)
        app.screen.query_one(
            "#paste", Input
        ).value = f"xmpp:{BOB}?omemo-sid-2002={fingerprint(BOB, 2002)}"
        app.screen.query_one("#paste", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TrustUriDialog)
        assert app.focused is app.screen.query_one("#confirm", Checkbox)
        await pilot.press("space", "tab", "tab", "enter")
        await settle(pilot)
        assert trust_calls(service) == [(BOB, 2002, TrustLevel.VERIFIED)]


async def test_c_copies_our_uri_and_a_paste_lands_in_the_box(service: FakeService) -> None:
    """Ctrl+O then c copies our URI (the box had the focus, so c was typed into it and the
    hint "(c)" did nothing); a URI pasted right away still lands in the paste box, and
    Enter previews it."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+o")
        await settle(pilot)
        copied: list[str] = []
        app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
        await pilot.press("c")
        await settle(pilot)
        box = app.screen.query_one("#paste", Input)
        assert box.value == ""
        assert len(copied) == 1
        assert copied[0].startswith("xmpp:")
        uri = f"xmpp:{BOB}?omemo-sid-2002={fingerprint(BOB, 2002)}"
        app.screen.post_message(events.Paste(uri))
        await settle(pilot)
        assert box.value == uri
        assert app.focused is box
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TrustUriDialog)
