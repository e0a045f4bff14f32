"""Pilot tests: what the user does and what the app then asks of the service.

Each test drives `TuiOmemoApp` on a `FakeService` and asserts on the calls the service received,
on the screen that is showing and on posted messages — not on pixels (those are the snapshots).
"""

from __future__ import annotations

import asyncio
import inspect

from textual import events
from textual.widgets import Button, Checkbox, Input, OptionList, Static

from tests.fakes_ui import BOB, CAROL, DAVE, NOW, ROOM, FakeService, fingerprint
from tests.ui.helpers import SIZE, make_app, settle
from tui_omemo.events import SecurityEvent, SecurityEventKind
from tui_omemo.model import Namespace, TrustLevel
from tui_omemo.service.api import (
    AccountChange,
    ChatService,
    MessageDelivered,
    MessageReceived,
    RosterChanged,
    SecurityEventRaised,
)
from tui_omemo.ui.app import PassphraseWanted, Report, TuiOmemoApp
from tui_omemo.ui.clock import Clock
from tui_omemo.ui.commands import ACTIONS, ActionsProvider
from tui_omemo.ui.dialogs.message_detail import MessageDetailDialog
from tui_omemo.ui.dialogs.partial_send import PartialSendDialog
from tui_omemo.ui.dialogs.plaintext import PlaintextDialog
from tui_omemo.ui.dialogs.trust_uri import TrustUriDialog
from tui_omemo.ui.screens.account import AccountForm, AccountScreen, NewAccount
from tui_omemo.ui.screens.account_edit import AccountEditScreen
from tui_omemo.ui.screens.chat import ChatScreen
from tui_omemo.ui.screens.group import GroupChatScreen
from tui_omemo.ui.screens.progress import ProgressScreen
from tui_omemo.ui.screens.roster import RosterScreen
from tui_omemo.ui.screens.settings import SettingsScreen
from tui_omemo.ui.screens.trust import TrustScreen
from tui_omemo.ui.screens.unlock import UnlockScreen
from tui_omemo.ui.widgets.banner import SecurityBanner
from tui_omemo.ui.widgets.composer import Composer
from tui_omemo.ui.widgets.device_table import DeviceTable
from tui_omemo.ui.widgets.message_log import MessageLog
from tui_omemo.ui.widgets.roster_list import RosterList


def sends(service: FakeService) -> list[tuple[object, ...]]:
    return [args for name, args in service.calls if name == "send"]


async def open_chat(pilot, jid: str) -> ChatScreen:  # type: ignore[no-untyped-def]
    pilot.app.open_chat(jid)
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ChatScreen)
    assert screen.peer == jid
    return screen


async def test_filter_as_you_type_narrows_the_roster(service: FakeService) -> None:
    """Typing in the filter keeps only matching chats; Enter opens the first match."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, RosterScreen)
        roster = app.screen.query_one(RosterList)
        assert roster.option_count == 5
        await pilot.press(*"car")
        assert roster.option_count == 1
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ChatScreen)
        assert app.screen.peer == CAROL


async def test_typing_in_the_list_goes_on_in_the_filter(service: FakeService) -> None:
    """From the list, letters land in the filter box and narrow the roster."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down")
        assert isinstance(app.focused, RosterList)
        await pilot.press(*"tea")
        assert app.screen.query_one("#filter", Input).value == "tea"
        assert app.screen.query_one(RosterList).option_count == 1


async def test_choosing_a_chat_opens_it_and_marks_it_read(service: FakeService) -> None:
    """Down into the list and Enter opens Bob's chat with his history, then marks it read."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ChatScreen)
        log = app.screen.query_one(MessageLog)
        assert len(log.messages) == 6
        assert ("mark_read", (BOB,)) in service.calls


async def test_enter_sends_and_ctrl_j_makes_a_new_line(service: FakeService) -> None:
    """Ctrl+J inserts a line break; Enter sends the whole text encrypted and empties the box."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_chat(pilot, BOB)
        await pilot.press(*"hi", "ctrl+j", *"there", "enter")
        await settle(pilot)
        assert sends(service) == [(BOB, "hi\nthere", False)]
        assert screen.query_one(Composer).text == ""
        assert screen.query_one(MessageLog).messages[-1].body == "hi\nthere"


async def test_up_recalls_what_was_sent(service: FakeService) -> None:
    """Up in an empty composer shows the last sent text again."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_chat(pilot, CAROL)
        await pilot.press(*"first", "enter")
        await settle(pilot)
        await pilot.press("up")
        assert screen.query_one(Composer).text == "first"


async def test_plaintext_needs_an_explicit_choice(service: FakeService) -> None:
    """To a contact without OMEMO nothing goes out until "Send unencrypted" is pressed.

    After the choice, later messages go without `allow_plaintext`: the service remembers the
    choice and would encrypt again if the contact published devices.
    """
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_chat(pilot, DAVE)
        await pilot.press(*"hello", "enter")
        await settle(pilot)
        assert isinstance(app.screen, PlaintextDialog)
        await pilot.click("#cancel")
        await settle(pilot)
        assert sends(service) == []
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PlaintextDialog)
        await pilot.click("#plaintext")
        await settle(pilot)
        assert sends(service) == [(DAVE, "hello", True)]
        await pilot.press(*"again", "enter")
        await settle(pilot)
        assert not isinstance(app.screen, PlaintextDialog)
        assert sends(service)[-1] == (DAVE, "again", False)


async def test_undecided_devices_raise_the_banner_which_opens_the_trust_manager(
    service: FakeService,
) -> None:
    """Bob's two undecided devices are announced before sending; a click reviews them."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_chat(pilot, BOB)
        banner = screen.query_one(SecurityBanner)
        assert not banner.has_class("-hidden")
        assert "2 new devices of Bob" in str(banner.render())
        await pilot.click(SecurityBanner)
        await settle(pilot)
        assert isinstance(app.screen, TrustScreen)
        current = app.screen.query_one(DeviceTable).current
        assert current is not None
        assert current.bare_jid == BOB


async def test_trust_manager_verifies_the_highlighted_device(service: FakeService) -> None:
    """v on Bob's device 2002, once the fingerprints are confirmed to match, records VERIFIED
    for exactly that device."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        table = app.screen.query_one(DeviceTable)
        row = next(i for i, d in enumerate(table.ordered) if d.device_id == 2002)
        table.move_cursor(row=row)
        await pilot.press("v")
        await settle(pilot)
        app.screen.query_one("#match", Checkbox).value = True
        await settle(pilot)
        await pilot.click("#verify")
        await settle(pilot)
        assert ("set_trust", (BOB, 2002, TrustLevel.VERIFIED)) in service.calls
        assert table.ordered[row].trust is TrustLevel.VERIFIED


async def test_btbv_switch_writes_trust_mode(service: FakeService) -> None:
    """Turning the BTBV switch off sets trust_mode to manual."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        await pilot.click("#btbv")
        await settle(pilot)
        assert ("update_setting", ("trust_mode", "manual")) in service.calls


async def test_verify_by_uri_only_after_confirmation(service: FakeService) -> None:
    """A pasted URI is previewed; Verify stays disabled until the trusted-channel box is ticked."""
    uri = f"xmpp:{BOB}?omemo-sid-2002={fingerprint(BOB, 2002)}"
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+o")
        await settle(pilot)
        app.screen.query_one("#paste", Input).value = uri
        app.screen.query_one("#paste", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TrustUriDialog)
        assert app.screen.query_one("#verify", Button).disabled
        await pilot.click("#verify")
        await settle(pilot)
        assert not any(name == "apply_trust_uri" for name, _ in service.calls)
        app.screen.query_one(Checkbox).value = True
        await settle(pilot)
        await pilot.click("#verify")
        await settle(pilot)
        assert ("apply_trust_uri", (uri,)) in service.calls
        devices = await service.devices(BOB)
        assert next(d for d in devices if d.device_id == 2002).trust is TrustLevel.VERIFIED


async def test_a_bad_uri_shows_why(service: FakeService) -> None:
    """A paste that is not a trust URI is refused with the service's reason."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+o")
        await settle(pilot)
        app.screen.query_one("#paste", Input).value = "https://example.org"
        app.screen.query_one("#paste", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert "Not a trust URI" in str(app.screen.query_one("#paste-error", Static).render())


async def test_search_then_enter_jumps_to_the_message(service: FakeService) -> None:
    """A hit in the room opens the room with that message highlighted."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+f")
        await settle(pilot)
        await pilot.press(*"shortbread", "enter")
        await settle(pilot)
        hits = app.screen.query_one("#hits", OptionList)
        assert hits.option_count == 1
        await pilot.press("down", "enter")  # the query box keeps the focus; Down to the hits
        await settle(pilot, 6)
        assert isinstance(app.screen, GroupChatScreen)
        log = app.screen.query_one(MessageLog)
        assert log.cursor is not None
        assert "shortbread" in log.messages[log.cursor].body


async def test_settings_edit_and_refusal(service: FakeService) -> None:
    """A bad value shows the reason under the option; a good one is saved through the service."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)
        assert isinstance(app.screen, SettingsScreen)
        box = app.screen.query_one("#value-stale_after_hours", Input)
        box.value = "soon"
        box.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert "whole number" in str(app.screen.query_one("#error-stale_after_hours").render())
        assert app.screen.query_one("#option-stale_after_hours").has_class("-error")
        box.value = "48"
        await pilot.press("enter")
        await settle(pilot)
        assert (await service.settings()).stale_after_hours == 48
        assert not app.screen.query_one("#option-stale_after_hours").has_class("-error")


def test_palette_holds_every_app_action() -> None:
    """Every action_* the app defines is an entry of the command palette."""
    own = {
        name.removeprefix("action_")
        for name, _ in inspect.getmembers(TuiOmemoApp, inspect.isfunction)
        if name.startswith("action_") and name in TuiOmemoApp.__dict__
    }
    offered = {entry.action.removeprefix("app.") for entry in ACTIONS}
    assert own <= offered
    assert ActionsProvider in TuiOmemoApp.COMMANDS


async def test_palette_runs_an_action(service: FakeService) -> None:
    """Ctrl+P, "trust", Enter opens the trust manager."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"device trust")
        await settle(pilot, 8)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TrustScreen)


async def test_failure_detail_offers_rebuild_session(service: FakeService) -> None:
    """The failed message's dialog gives the reason, and Rebuild session reaches the service."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_chat(pilot, BOB)
        await pilot.press("ctrl+l", "up", "up", "enter")
        await settle(pilot)
        assert isinstance(app.screen, MessageDetailDialog)
        assert "No session" in str(app.screen.query_one("#failure", Static).render())
        await pilot.click("#rebuild")
        await settle(pilot)
        assert ("rebuild_session", (BOB, 2002)) in service.calls


async def test_detail_of_a_sent_message_names_both_omemo_versions(service: FakeService) -> None:
    """A send that went to OMEMO 2 and OMEMO 0.3 devices says so in its message details."""
    service.send_versions[BOB] = (Namespace.V2, Namespace.LEGACY)
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_chat(pilot, BOB)
        await pilot.press(*"to both", "enter")
        await settle(pilot)
        await pilot.press("ctrl+l", "end", "enter")
        await settle(pilot)
        assert isinstance(app.screen, MessageDetailDialog)
        facts = str(app.screen.query_one("#facts", Static).render())
        assert "versions 2 and 0.3" in facts
        assert "(you)" in facts


async def test_messages_elsewhere_toast_and_ring(service: FakeService) -> None:
    """A message for another chat and a security event each raise a toast and the bell."""
    app = make_app(service)
    rings: list[None] = []
    app.bell = lambda: rings.append(None)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_chat(pilot, BOB)
        service.emit(MessageReceived(service.next_message(CAROL, "psst", sender=CAROL)))
        service.emit(MessageReceived(service.next_message(BOB, "here")))
        service.emit(
            SecurityEventRaised(
                SecurityEvent(SecurityEventKind.NEW_DEVICE, BOB, 2004, "Bob has a new device 2004.")
            )
        )
        await settle(pilot)
        titles = [n.title for n in app._notifications]
        assert titles.count("Message") == 1
        assert "Security" in titles
        assert len(rings) == 2
        assert screen.query_one(MessageLog).messages[-1].body == "here"


async def test_older_pages_load_when_scrolling_up() -> None:
    """Only the newest page is loaded on open; scrolling to the top loads the next one."""
    service = FakeService()
    service.generate("many@example.org", 1_000)
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_chat(pilot, "many@example.org")
        log = screen.query_one(MessageLog)
        assert len(log.messages) == 50
        log.scroll_home(animate=False, immediate=True)
        await settle(pilot)
        assert len(log.messages) == 150
        assert log.messages[0].archive_id == 851


async def test_unlock_asks_again_after_a_wrong_passphrase(service: FakeService) -> None:
    """The callback's refusal is shown; the right passphrase opens the roster."""
    tried: list[str] = []

    async def unlock(passphrase: str) -> None:
        tried.append(passphrase)
        if passphrase != "right":
            raise ValueError("Wrong passphrase.")

    app = make_app(service, unlock=unlock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, UnlockScreen)
        await pilot.press(*"wrong", "enter")
        await settle(pilot)
        assert "Wrong passphrase." in str(app.screen.query_one("#error", Static).render())
        assert app.screen.query_one("#passphrase", Input).value == ""
        await pilot.press(*"right", "enter")
        await settle(pilot)
        assert isinstance(app.screen, RosterScreen)
        assert tried == ["wrong", "right"]


async def test_open_chat_option_opens_the_room() -> None:
    """`open_chat=` on the constructor opens that chat after the roster."""
    app = make_app(FakeService(), open_chat=ROOM)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 6)
        assert isinstance(app.screen, GroupChatScreen)


async def test_add_contact_dialog_checks_the_jid(service: FakeService) -> None:
    """Ctrl+N asks for a JID, refuses one without '@', then adds the good one to the roster."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press(*"frank", "enter")
        await settle(pilot)
        assert "not a JID" in str(app.screen.query_one("#error", Static).render())
        await pilot.press(*"@example.org", "enter")
        await settle(pilot)
        assert ("add_contact", ("frank@example.org",)) in service.calls
        assert isinstance(app.screen, RosterScreen)
        roster = app.screen.query_one(RosterList)
        assert any(c.jid == "frank@example.org" for c in roster.chats)


async def test_join_room_then_plaintext_in_it_needs_the_choice(service: FakeService) -> None:
    """A joined room without OMEMO is announced; sending there asks before plaintext."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+g")
        await settle(pilot)
        await pilot.press(*"open@rooms.example.org", "enter", *"alice", "enter")
        await settle(pilot)
        assert ("join_room", ("open@rooms.example.org", "alice")) in service.calls
        assert any("OMEMO is not possible" in str(n.message) for n in app._notifications)
        app.open_chat("open@rooms.example.org")
        await settle(pilot)
        assert isinstance(app.screen, GroupChatScreen)
        await pilot.press(*"hi all", "enter")
        await settle(pilot)
        assert isinstance(app.screen, PlaintextDialog)
        assert sends(service) == []


async def test_room_members_without_keys_offer_everyone_with_keys(service: FakeService) -> None:
    """A room send goes through `send_to_room`; when members have no usable keys nothing is
    sent and a dialog lists them; "Send to everyone with keys" remembers the choice for the
    room and sends again with allow_partial, while Escape sends nothing."""
    app = make_app(service, open_chat=ROOM)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 6)
        assert isinstance(app.screen, GroupChatScreen)
        await pilot.press(*"first", "enter")
        await settle(pilot)
        assert isinstance(app.screen, PartialSendDialog)
        listed = str(app.screen.query_one("#skipped-members", Static).render())
        assert "mallory@evil.example" in listed
        assert "No device list published." in listed
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, GroupChatScreen)
        assert app.screen.query_one(Composer).text == "first"
        assert sends(service) == []
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PartialSendDialog)
        await pilot.click("#partial")
        await settle(pilot)
        assert isinstance(app.screen, GroupChatScreen)
        room_calls = [c for c in service.calls if c[0] in {"send_to_room", "set_partial_choice"}]
        assert room_calls == [
            ("send_to_room", (ROOM, "first", False, False)),
            ("send_to_room", (ROOM, "first", False, False)),
            ("set_partial_choice", (ROOM, True)),
            ("send_to_room", (ROOM, "first", False, True)),
        ]
        page = await service.history(ROOM, None, 100)  # sent (archived) exactly once
        assert [m.body for m in page.messages].count("first") == 1
        assert app.screen.query_one(Composer).text == ""


class FailingSearch(FakeService):
    """A service whose search fails like a real one can (the store is gone)."""

    async def search(self, text: str, peer: str | None = None):  # type: ignore[no-untyped-def]
        raise RuntimeError("the archive is not available")


async def test_a_failing_service_call_is_shown_not_fatal() -> None:
    """An exception in a worker becomes an error toast; the app keeps running."""
    app = make_app(FailingSearch())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+f")
        await settle(pilot)
        await pilot.press(*"x", "enter")
        await settle(pilot)
        assert app.is_running
        messages = [str(n.message) for n in app._notifications]
        assert any("the archive is not available" in m for m in messages)


async def test_a_huge_chat_opens_like_a_small_one() -> None:
    """100,000 archived messages: one page is loaded and the screen has the same widgets."""
    service = FakeService()
    service.generate("huge@example.org", 100_000)
    service.generate("tiny@example.org", 100)
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        counts = []
        for jid in ("tiny@example.org", "huge@example.org"):
            screen = await open_chat(pilot, jid)
            assert len(screen.query_one(MessageLog).messages) == 50
            counts.append(len(list(screen.walk_children(with_self=True))))
            app.pop_screen()
            await settle(pilot)
        assert counts[0] == counts[1]


async def test_security_event_leads_to_the_devices(service: FakeService) -> None:
    """Enter on "Bob has a new device" opens the trust manager at Bob's devices."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TrustScreen)
        current = app.screen.query_one(DeviceTable).current
        assert current is not None
        assert current.bare_jid == BOB


def test_a_presence_flood_keeps_only_the_newest_row_per_chat() -> None:
    """A queued RosterChanged is replaced by a newer one for the same chat, not another's."""
    from tests.fakes_ui import _chats

    bob, carol = _chats()[0], _chats()[1]
    older = TuiOmemoApp.ServiceEventArrived(RosterChanged(bob))
    newer = TuiOmemoApp.ServiceEventArrived(RosterChanged(bob))
    other = TuiOmemoApp.ServiceEventArrived(RosterChanged(carol))
    assert newer.can_replace(older)
    assert not other.can_replace(older)
    assert not TuiOmemoApp.ServiceEventArrived(
        MessageReceived(FakeService().next_message(BOB, "x"))
    ).can_replace(older)


async def test_on_ready_hook_runs_once_the_app_is_up(service: FakeService) -> None:
    """The host's `on_ready` (gc.freeze in `commands/app.py`) runs once, after the first
    screen is mounted."""
    seen: list[str] = []
    app = TuiOmemoApp(service, on_ready=lambda: seen.append(type(app.screen).__name__))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert seen == ["RosterScreen"]


# --- before the service exists: connecting, first run ---------------------------------------


class Gate:
    """A connect callback that waits until the test opens it, failing the first `fails` times."""

    def __init__(self, service: FakeService, fails: int = 0) -> None:
        self.service = service
        self.fails = fails
        self.calls = 0
        self.opened = asyncio.Event()

    async def __call__(self, report: Report) -> ChatService:
        self.calls += 1
        report("Logging in")
        await self.opened.wait()
        if self.calls <= self.fails:
            raise ConnectionError("the server refused the login")
        return self.service


def app_without_service(connect: Gate, **options: object) -> TuiOmemoApp:
    return TuiOmemoApp(connect=connect, clock=Clock.frozen(NOW), **options)  # type: ignore[arg-type]


async def test_no_service_yet_shows_progress_until_connected(service: FakeService) -> None:
    """`connect=` runs behind the progress screen; screens that need the service stay shut
    until it returns, then the roster shows."""
    gate = Gate(service)
    app = app_without_service(gate)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ProgressScreen)
        assert app.screen.steps == ("Logging in",)
        await pilot.press("ctrl+t", "escape")
        await settle(pilot)
        assert isinstance(app.screen, ProgressScreen)
        gate.opened.set()
        await settle(pilot)
        assert isinstance(app.screen, RosterScreen)
        assert app.service is service


async def test_a_failed_connect_is_shown_and_r_tries_again(service: FakeService) -> None:
    """The callback's one-line reason is shown with the retry hint; r runs it again."""
    gate = Gate(service, fails=1)
    gate.opened.set()
    app = app_without_service(gate)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ProgressScreen)
        assert screen.failed
        assert "refused the login" in str(screen.query_one("#error", Static).render())
        assert not screen.query_one("#retry").has_class("-hidden")
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, RosterScreen)
        assert gate.calls == 2
        assert screen.steps == ("Logging in",)  # the failed step was retried, not "done"


async def first_run_form(pilot, jid: str, password: str, server: str = "") -> AccountScreen:  # type: ignore[no-untyped-def]
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, AccountScreen)
    screen.query_one("#jid", Input).value = jid
    screen.query_one("#password", Input).value = password
    screen.query_one("#server", Input).value = server
    await settle(pilot)
    return screen


async def test_first_run_asks_a_new_passphrase_twice(service: FakeService) -> None:
    """Without a keyring the form asks a passphrase twice; differing ones are refused before
    the callback runs; then setup gets everything and the app connects."""
    added: list[NewAccount] = []

    async def setup(account: NewAccount) -> None:
        added.append(account)

    gate = Gate(service)
    gate.opened.set()
    app = app_without_service(gate, setup=setup, account_form=AccountForm(ask_passphrase=True))
    async with app.run_test(size=SIZE) as pilot:
        form = await first_run_form(pilot, "alice@example.org", "secret")
        form.query_one("#passphrase", Input).value = "kiwi-777"
        form.query_one("#passphrase2", Input).value = "kiwi-888"
        await pilot.click("#add")
        await settle(pilot)
        assert "differ" in str(form.query_one("#error", Static).render())
        assert added == []
        form.query_one("#passphrase2", Input).value = "kiwi-777"
        await pilot.click("#add")
        await settle(pilot)
        assert isinstance(app.screen, RosterScreen)
        assert added == [NewAccount("alice@example.org", "secret", None, False, "kiwi-777")]
        assert "kiwi" not in repr(added[0])


async def test_plaintext_is_offered_only_for_a_loopback_server(service: FakeService) -> None:
    """The plaintext box can be ticked while the server is this machine; otherwise it is
    disabled (still shown, with the reason) and unticked."""
    form_options = AccountForm(is_loopback=lambda _jid, server: server == "127.0.0.1:5222")
    app = make_app(service, setup=Gate(service), account_form=form_options)
    async with app.run_test(size=SIZE) as pilot:
        form = await first_run_form(pilot, "alice@example.org", "secret", "127.0.0.1:5222")
        box = form.query_one("#plaintext", Checkbox)
        assert not box.disabled
        box.value = True
        form.query_one("#server", Input).value = "xmpp.example.org"
        await settle(pilot)
        assert box.display
        assert box.disabled
        assert not box.value


async def test_first_run_back_to_the_form_when_setup_fails_then_account_screen_on_login(
    service: FakeService,
) -> None:
    """A failed setup returns to the filled form with the reason (PassphraseWanted opens the
    passphrase boxes). Once the profile exists a failed login is no dead end: the progress
    screen says what failed and offers the account screen (a), which shows the reason, saves
    the new password and logs in again; r still just tries again."""
    calls: list[str] = []

    async def setup(account: NewAccount) -> None:
        calls.append(account.jid)
        if len(calls) == 1:
            raise PassphraseWanted("no usable OS keyring to keep the database key.")

    gate = Gate(service, fails=2)
    gate.opened.set()
    app = app_without_service(gate, setup=setup, account_editor=service)
    async with app.run_test(size=SIZE) as pilot:
        form = await first_run_form(pilot, "alice@example.org", "secret")
        await pilot.click("#add")
        await settle(pilot)
        assert app.screen is form
        assert not form.query_one("#passphrase").has_class("-hidden")
        assert "OS keyring" in str(form.query_one("#error", Static).render())
        form.query_one("#passphrase", Input).value = "passpass"
        form.query_one("#passphrase2", Input).value = "passpass"
        await pilot.click("#add")
        await settle(pilot)
        progress = app.screen
        assert isinstance(progress, ProgressScreen)
        assert progress.failed
        assert "a: fix the account" in str(progress.query_one("#retry", Static).render())
        assert [type(s) for s in app.screen_stack[1:]] == [ProgressScreen]  # the form is gone
        await pilot.press("a")
        await settle(pilot)
        editor = app.screen
        assert isinstance(editor, AccountEditScreen)
        assert "refused the login" in str(editor.query_one("#failure", Static).render())
        assert editor.focused is editor.query_one("#password", Input)
        await pilot.press(*"new secret", "enter")
        await settle(pilot)
        assert ("update_account", (AccountChange(password="new secret"),)) in service.calls
        assert app.screen is progress  # saved, then logged in again: failed again (fails=2)
        assert progress.failed
        assert gate.calls == 2
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, RosterScreen)
        assert gate.calls == 3


async def test_an_event_for_a_chat_being_taken_down_is_ignored(service: FakeService) -> None:
    """A confirmation that reaches a chat screen whose widgets are already gone (the app
    exiting) changes nothing and raises nothing (it once failed the app with NoMatches)."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_chat(pilot, BOB)
        await screen.query_one(MessageLog).remove()
        screen.service_event(MessageDelivered(1, BOB))
        screen.service_event(RosterChanged(screen._chat))
        await settle(pilot)
        assert app.screen is screen


async def test_typing_after_a_jump_from_search_writes_in_the_composer(
    service: FakeService,
) -> None:
    """After Enter on a search hit the found message is highlighted in the log; the words
    typed next land in the composer (which takes the focus), not lost on the log."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+f")
        await settle(pilot)
        await pilot.press(*"shortbread", "enter")
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot, 6)
        assert isinstance(app.screen.focused, MessageLog)
        await pilot.press(*"yes, with tea")
        await settle(pilot)
        composer = app.screen.query_one(Composer)
        assert app.focused is composer
        assert composer.text == "yes, with tea"
        app.screen.query_one(MessageLog).focus()
        composer.clear()
        await settle(pilot)
        for character in "tea and bread":  # arriving together: r and d too go to the composer
            app.post_message(events.Key(character if character != " " else "space", character))
        await settle(pilot)
        assert app.focused is composer
        assert composer.text == "tea and bread"
