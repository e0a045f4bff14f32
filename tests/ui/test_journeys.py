"""Journeys of a person through the real app (issue 11): each drives `build_app` over a real
SQLCipher profile, the real service, the Prosody fixture and a real contact (another
`OmemoChatService`), asserts on what the screen shows (and on the store where a value must not
or must change), and fails if its bug comes back.

The helpers (`real_app`, `first_run`, `until` …) and the `contact` fixture are those of
tests/ui/test_pilot_prosody.py, whose journeys (first run, open a roster contact, trust manager
and URI, search) this file continues.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Checkbox, Select, Static

from tests.prosody import ProsodyServer
from tests.service.conftest import Peer, PeerFactory, make_peer  # noqa: F401 (fixture)
from tests.store.conftest import DictKeyring
from tests.ui.test_pilot_prosody import (
    contact,  # noqa: F401 (fixture)
    fill_first_run,
    first_run,
    keyring_console,
    open_chat_by_filter,
    real_app,
    service_of,
    until,
)
from tui_omemo.model import TrustLevel
from tui_omemo.service import inbound, outbox
from tui_omemo.service.api import ChatMessage
from tui_omemo.service.app_service import OmemoChatService
from tui_omemo.ui.dialogs.plaintext import PlaintextDialog
from tui_omemo.ui.dialogs.verify_device import VerifyDeviceDialog
from tui_omemo.ui.screens.account import AccountScreen
from tui_omemo.ui.screens.chat import ChatScreen
from tui_omemo.ui.screens.group import GroupChatScreen
from tui_omemo.ui.screens.roster import RosterScreen
from tui_omemo.ui.screens.settings import SettingsScreen
from tui_omemo.ui.screens.trust import TrustScreen
from tui_omemo.ui.widgets.banner import SecurityBanner
from tui_omemo.ui.widgets.composer import Composer
from tui_omemo.ui.widgets.device_table import DeviceTable
from tui_omemo.ui.widgets.message_log import PENDING_MARK, MessageLog
from tui_omemo.ui.widgets.roster_list import RosterList

pytestmark = [pytest.mark.prosody, pytest.mark.slow]

Contact = tuple[tuple[str, str], Peer]


def painted(log: MessageLog) -> str:
    """What the chat log shows on the terminal now."""
    return "\n".join(
        "".join(segment.text for segment in log.render_line(y)) for y in range(log.size.height)
    )


def chat_log(pilot: Pilot[None]) -> MessageLog:
    screen = pilot.app.screen
    assert isinstance(screen, ChatScreen)
    return screen.query_one(MessageLog)


async def stored_state(service: OmemoChatService, contact_jid: str) -> object:
    """Every stored setting and the contact's trust records (what looking must not change)."""
    return await service.runner.read(
        lambda uow: (uow.settings.all(), uow.trust.identities(contact_jid))
    )


async def test_own_line_shows_at_once_pending_then_delivered_then_the_answer(
    prosody: ProsodyServer,
    contact: Contact,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Enter: our line is in the open chat at once with its clock mark while the server has
    not confirmed it (held two seconds here), the mark goes when it is confirmed, and the
    contact's answer follows below it — without leaving and reopening the chat."""
    monkeypatch.setattr(outbox, "CONFIRM_DELAY", 2.0)
    # issue 17: the contact's receipt would show "delivered" before the server's confirmation
    # (test_delivery_marks has that journey); here it is the server's confirmation alone
    monkeypatch.setattr(inbound, "answer", lambda _transport, _row: None)
    ours, peer = contact
    async with real_app(tmp_path / "ours", keyring_console()) as (app, pilot):
        await first_run(pilot, prosody, ours)
        await open_chat_by_filter(pilot, peer.jid)
        log = chat_log(pilot)
        await pilot.press(*"is my line there?", "enter")
        await until(pilot, lambda: "is my line there?" in painted(log), "our line on screen")
        assert PENDING_MARK in painted(log)
        assert await service_of(app).runner.read(lambda uow: uow.outbox.count()) == 1
        assert (await peer.next_message()).message.body == "is my line there?"
        await until(pilot, lambda: PENDING_MARK not in painted(log), "the delivered mark")
        assert await service_of(app).runner.read(lambda uow: uow.outbox.count()) == 0
        await peer.service.send(ours[0], "yes, it is")
        await until(pilot, lambda: "yes, it is" in painted(log), "the answer on screen")
        assert [m.body for m in log.messages][-2:] == ["is my line there?", "yes, it is"]
        assert [m.outgoing for m in log.messages][-2:] == [True, False]


async def test_open_jid_outside_the_roster_chats_at_once_and_offers_adding(
    prosody: ProsodyServer,
    make_peer: PeerFactory,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    """`tui-omemo open JID` for someone not in the roster lands in their chat (not on the
    roster with "not in the roster"), the message goes out encrypted at once, and F9 from the
    chat adds them to the roster (stored) with a subscription request."""
    ours = prosody.create_account()
    stranger = await make_peer()
    profile = tmp_path / "ours"
    async with real_app(profile, keyring_console(), stranger.jid) as (app, pilot):
        await until(pilot, lambda: isinstance(app.screen, AccountScreen), "the first-run form")
        await fill_first_run(pilot, *ours, f"{prosody.host}:{prosody.port}")
        await until(pilot, lambda: isinstance(app.screen, ChatScreen), "the stranger's chat")
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        assert screen.peer == stranger.jid
        offer = screen.query_one("#add-offer", Static)
        assert not offer.has_class("-hidden")
        assert "not in your contacts" in str(offer.render())
        await until(pilot, lambda: isinstance(app.focused, Composer), "the composer focused")
        await pilot.press(*"hello, new contact", "enter")
        got = (await stranger.next_message()).message
        assert (got.body, got.sender) == ("hello, new contact", ours[0])
        assert got.omemo is not None
        log = chat_log(pilot)
        await until(pilot, lambda: "hello, new contact" in painted(log), "our line on screen")
        service = service_of(app)
        assert stranger.jid not in {
            i.bare_jid for i in await service.runner.read(lambda uow: uow.roster.all())
        }
        await pilot.press("f9")
        await until(pilot, lambda: offer.has_class("-hidden"), "the offer gone")
        roster = await service.runner.read(lambda uow: uow.roster.all())
        assert stranger.jid in {item.bare_jid for item in roster}
        assert any("asked to see their presence" in str(n.message) for n in app._notifications)


async def test_looking_at_settings_and_other_screens_changes_nothing(
    prosody: ProsodyServer,
    contact: Contact,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    """With manual trust stored, opening Settings (which shows "manual"), the trust manager,
    the security events and the verify screen, and leaving each, stores nothing: the settings
    and trust records are as before, and trust mode is still manual after a restart."""
    ours, peer = contact
    keys = DictKeyring()
    profile = tmp_path / "ours"
    async with real_app(profile, keyring_console(keys)) as (app, pilot):
        await first_run(pilot, prosody, ours)
        service = service_of(app)
        await service.update_setting("trust_mode", "manual")  # as `tui-omemo settings` does
        await service.refresh_device_list(peer.jid)
        before = await stored_state(service, peer.jid)
        for _ in range(2):
            await pilot.press("f2")
            await until(pilot, lambda: isinstance(app.screen, SettingsScreen), "Settings")
            choice = app.screen.query_one("#value-trust_mode", Select)
            await until(pilot, lambda: choice.value == "manual", "manual shown")
            await pilot.pause(0.3)  # what a late Changed would have saved by now
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, RosterScreen), "the roster")
        for key in ("ctrl+t", "f3", "ctrl+o", "ctrl+f"):
            await pilot.press(key)
            await until(pilot, lambda: not isinstance(app.screen, RosterScreen), key)
            await pilot.pause(0.3)
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, RosterScreen), "the roster")
        assert await stored_state(service, peer.jid) == before
        assert (await service.settings()).trust_mode == "manual"
        assert not [n for n in app._notifications if "Trust mode" in str(n.message)]
    async with real_app(profile, keyring_console(keys)) as (app, pilot):
        await until(pilot, lambda: isinstance(app.screen, RosterScreen), "the roster again")
        assert (await service_of(app).settings()).trust_mode == "manual"


async def test_quit_and_start_again_keeps_history_order_and_trust(
    prosody: ProsodyServer,
    contact: Contact,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    """A conversation and a verification survive quitting: the next start shows the chat's
    messages in the order they were written, and the device still verified (screen and
    store)."""
    ours, peer = contact
    keys = DictKeyring()
    profile = tmp_path / "ours"
    async with real_app(profile, keyring_console(keys)) as (app, pilot):
        await first_run(pilot, prosody, ours)
        await open_chat_by_filter(pilot, peer.jid)
        await pilot.press(*"before the restart", "enter")
        assert (await peer.next_message()).message.body == "before the restart"
        await peer.service.send(ours[0], "answer before the restart")
        log = chat_log(pilot)
        await until(pilot, lambda: "answer before the restart" in painted(log), "the answer")
        await pilot.press("ctrl+t")
        await until(pilot, lambda: isinstance(app.screen, TrustScreen), "the trust manager")
        table = app.screen.query_one(DeviceTable)
        await until(
            pilot,
            lambda: any(d.bare_jid == peer.jid for d in table.ordered),
            "the contact's device listed",
        )
        table.move_cursor(
            row=next(i for i, d in enumerate(table.ordered) if d.bare_jid == peer.jid)
        )
        await pilot.press("v")  # the compare step: tick "all groups match", then Verify
        await until(pilot, lambda: isinstance(app.screen, VerifyDeviceDialog), "the compare step")
        app.screen.query_one("#match", Checkbox).value = True
        await until(
            pilot, lambda: not app.screen.query_one("#verify", Button).disabled, "Verify enabled"
        )
        await pilot.click("#verify")
        service = service_of(app)

        async def verified() -> bool:
            records = await service.runner.read(lambda uow: uow.trust.identities(peer.jid))
            return [r.trust for r in records] == [TrustLevel.VERIFIED]

        await until(pilot, verified, "VERIFIED stored")
        await pilot.press("ctrl+q")
    async with real_app(profile, keyring_console(keys)) as (app, pilot):
        await until(pilot, lambda: isinstance(app.screen, RosterScreen), "the roster again")
        await open_chat_by_filter(pilot, peer.jid)
        log = chat_log(pilot)
        await until(pilot, lambda: len(log.messages) >= 2, "the history")
        assert [m.body for m in log.messages] == ["before the restart", "answer before the restart"]
        assert "answer before the restart" in painted(log)
        devices = await service_of(app).devices(peer.jid)
        assert [d.trust for d in devices] == [TrustLevel.VERIFIED]
        await pilot.press("ctrl+t")
        await until(pilot, lambda: isinstance(app.screen, TrustScreen), "the trust manager")
        table = app.screen.query_one(DeviceTable)
        await until(
            pilot,
            lambda: any(d.bare_jid == peer.jid for d in table.ordered),
            "the contact's device listed",
        )
        shown = next(d for d in table.ordered if d.bare_jid == peer.jid)
        assert shown.trust is TrustLevel.VERIFIED


async def test_manual_mode_keeps_a_new_device_out_until_btbv_again(
    prosody: ProsodyServer,
    contact: Contact,  # noqa: F811 (the fixture imported above)
    make_peer: PeerFactory,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    """Manual trust chosen in Settings (the contact's device verified); the contact adds a
    device: it is undecided (store),
    the chat's banner says so, and a message does not reach it (only the old device). Back to
    BTBV in Settings the device stays undecided (no device is ever trusted behind the user's
    back) until the banner's trust manager trusts it blindly; the next message reaches it."""
    ours, peer = contact
    async with real_app(tmp_path / "ours", keyring_console()) as (app, pilot):
        await first_run(pilot, prosody, ours)
        await open_chat_by_filter(pilot, peer.jid)
        await pilot.press(*"first, one device", "enter")
        assert (await peer.next_message()).message.body == "first, one device"
        service = service_of(app)  # manual trust: only verified devices get keys
        await service.set_trust(peer.jid, peer.service.device_id, TrustLevel.VERIFIED)
        await pilot.press("escape", "f2")
        await until(pilot, lambda: isinstance(app.screen, SettingsScreen), "Settings")
        app.screen.query_one("#value-trust_mode", Select).value = "manual"
        await until(pilot, lambda: service._settings.trust_mode == "manual", "manual saved")
        await pilot.press("escape")

        second = await make_peer(peer_account(peer), directory=tmp_path / "second")
        await until(pilot, lambda: new_device_known(service, peer.jid, second), "new device")
        records = await service.runner.read(lambda uow: uow.trust.identities(peer.jid))
        levels = {r.device_id: r.trust for r in records}
        assert levels[second.service.device_id] is TrustLevel.UNDECIDED

        screen = await reopen_chat(pilot, peer.jid)
        banner = screen.query_one(SecurityBanner)
        await until(pilot, lambda: "new device" in str(banner.render()), "the banner")
        assert not banner.has_class("-hidden")
        await pilot.press(*"second, manual", "enter")
        assert (await peer.next_message()).message.body == "second, manual"
        await until(
            pilot,
            lambda: any("Not encrypted for" in str(n.title) for n in app._notifications),
            "the skipped device",
        )

        await pilot.press("escape", "f2")
        await until(pilot, lambda: isinstance(app.screen, SettingsScreen), "Settings")
        app.screen.query_one("#value-trust_mode", Select).value = "btbv"
        await until(pilot, lambda: service._settings.trust_mode == "btbv", "BTBV saved")
        await pilot.press("escape")
        screen = await reopen_chat(pilot, peer.jid)  # still undecided: the banner stays
        banner = screen.query_one(SecurityBanner)
        await until(pilot, lambda: "new device" in str(banner.render()), "the banner again")
        await pilot.press("ctrl+t")
        await until(pilot, lambda: isinstance(app.screen, TrustScreen), "the trust manager")
        table = app.screen.query_one(DeviceTable)
        new_id = second.service.device_id
        await until(
            pilot,
            lambda: any(d.device_id == new_id for d in table.ordered),
            "the new device listed",
        )
        table.move_cursor(row=next(i for i, d in enumerate(table.ordered) if d.device_id == new_id))
        await pilot.press("b")

        async def blind() -> bool:
            records = await service.runner.read(lambda uow: uow.trust.identities(peer.jid))
            return {r.device_id: r.trust for r in records}[new_id] is TrustLevel.BLINDLY_TRUSTED

        await until(pilot, blind, "the new device blindly trusted (BTBV) in the store")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ChatScreen), "back in the chat")
        await until(pilot, lambda: banner.has_class("-hidden"), "no banner")
        await pilot.press(*"third, btbv", "enter")
        assert (await peer.next_message()).message.body == "third, btbv"
        # the first text the new device could read: "second, manual" never reached it
        assert await next_text(second) == "third, btbv"


async def reopen_chat(pilot: Pilot[None], jid: str) -> ChatScreen:
    """Open a chat again from the roster (the filter still holds the earlier search)."""
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, RosterScreen), "the roster")
    app.open_chat(jid)  # type: ignore[attr-defined]
    await until(pilot, lambda: isinstance(app.screen, ChatScreen), "the chat again")
    await until(pilot, lambda: isinstance(app.focused, Composer), "the composer focused")
    screen = app.screen
    assert isinstance(screen, ChatScreen)
    return screen


async def next_text(peer: Peer) -> str:
    """The body of the peer's next message with text (empty key-transport ones skipped)."""
    while not (body := (await peer.next_message()).message.body):
        pass
    return body


def peer_account(peer: Peer) -> tuple[str, str]:
    return peer.jid, peer.password


async def new_device_known(service: OmemoChatService, jid: str, second: Peer) -> bool:
    records = await service.runner.read(lambda uow: uow.trust.identities(jid))
    if second.service.device_id in {r.device_id for r in records}:
        return True
    await service.refresh_device_list(jid)
    return False


async def test_group_join_send_receive_leave(
    prosody: ProsodyServer,
    contact: Contact,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    """The contact made an OMEMO room with us as member. Ctrl+G joins it and opens its chat;
    there our line shows at once and the contact decrypts it; the contact's line shows with
    its nick; F8 (confirmed) leaves: back on the roster, the room is gone from it (and from
    the service's chats)."""
    ours, peer = contact
    room = f"journey-{tmp_path.name[-6:].lower()}@{prosody.muc_domain}"
    groups = peer.service.groups
    assert groups is not None
    async with real_app(tmp_path / "ours", keyring_console()) as (app, pilot):
        await first_run(pilot, prosody, ours)
        await groups.create_room(room, "bob", [ours[0]])
        await pilot.press("ctrl+g")
        await pilot.press(*room, "enter", *"alice", "enter")
        service = service_of(app)
        await until(
            pilot,
            lambda: room in service.groups.joined_rooms(),  # type: ignore[union-attr]
            "joined",
        )
        async with asyncio.timeout(30):
            while not (await groups.room_info(room)).members:  # noqa: ASYNC110 (no event)
                await asyncio.sleep(0.05)
        await until(pilot, lambda: isinstance(app.screen, GroupChatScreen), "the room's chat")
        await until(pilot, lambda: isinstance(app.focused, Composer), "the composer focused")
        log = chat_log(pilot)
        await pilot.press(*"hello room", "enter")
        await until(pilot, lambda: "hello room" in painted(log), "our line in the room")
        assert not isinstance(app.screen, PlaintextDialog)  # an OMEMO room asks nothing
        got = await next_in_room(peer, room)
        assert (got.body, got.nick) == ("hello room", "alice")
        await peer.service.send_to_room(room, "hello alice")
        await until(pilot, lambda: "hello alice" in painted(log), "the contact's line")
        theirs = next(m for m in log.messages if m.body == "hello alice")
        assert (theirs.nick, theirs.outgoing) == ("bob", False)
        assert [m.body for m in log.messages].count("hello room") == 1  # not its reflection
        await pilot.press("f8")  # it asks first
        await until(pilot, lambda: bool(app.screen.query("#act")), "the leave question")
        await pilot.click("#act")
        await until(pilot, lambda: isinstance(app.screen, RosterScreen), "back on the roster")
        roster = app.screen.query_one(RosterList)
        await until(pilot, lambda: room not in {c.jid for c in roster.chats}, "room gone")
        assert room not in {c.jid for c in await service.chats()}


async def next_in_room(peer: Peer, room: str) -> ChatMessage:
    while True:
        message = (await peer.next_message()).message
        if message.peer == room and message.body:
            return message


async def test_quit_right_after_enter_then_up_after_the_restart_corrects_it(
    prosody: ProsodyServer,
    contact: Contact,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    """Enter then Ctrl+Q at once: the contact gets the message once (before the quit or on the
    next start), the next start shows it once, and Up in the empty composer edits it (a
    message from before the restart): the contact's next message is the correction, not a
    second copy, and our chat shows the new text once, marked edited."""
    ours, peer = contact
    keys = DictKeyring()
    profile = tmp_path / "ours"
    async with real_app(profile, keyring_console(keys)) as (app, pilot):
        await first_run(pilot, prosody, ours)
        await open_chat_by_filter(pilot, peer.jid)
        await pilot.press(*"said before quitting", "enter", "ctrl+q")
    async with real_app(profile, keyring_console(keys)) as (app, pilot):
        await until(pilot, lambda: isinstance(app.screen, RosterScreen), "the roster again")
        await open_chat_by_filter(pilot, peer.jid)
        log = chat_log(pilot)
        await until(pilot, lambda: "said before quitting" in painted(log), "the message")
        assert (await peer.next_message()).message.body == "said before quitting"
        await pilot.press("up")
        composer = app.screen.query_one(Composer)
        await until(pilot, lambda: composer.editing, "editing the last message")
        assert composer.text == "said before quitting"
        await pilot.press(*", corrected", "enter")
        correction = (await peer.next_message()).message
        assert correction.body == "said before quitting, corrected"
        assert correction.corrects is not None
        await until(pilot, lambda: "(edited)" in painted(log), "the correction shown")
        assert [m.body for m in log.messages if m.outgoing] == ["said before quitting, corrected"]
