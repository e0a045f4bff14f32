"""Group chats through `OmemoChatService` itself: the component it builds over its transport's
client, its room methods, its roster rows and its lifecycle (bookmarked rooms on `start`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.muc.conftest import TIMEOUT, Member, MemberFactory
from tests.service.conftest import PeerFactory
from tui_omemo.service.api import RosterChanged, SendFailed, ServiceEvent
from tui_omemo.service.app_service import ROSTER_COALESCE_S

pytestmark = [pytest.mark.prosody]

RoomJid = Callable[[], str]


async def _room_row(member: Member, room: str) -> RosterChanged:
    """The next RosterChanged of `room` (other events are skipped)."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            event = await member.peer.events.get()
            if isinstance(event, RosterChanged) and event.chat.jid == room:
                return event


async def test_room_methods_of_the_service_reach_the_room(
    make_member: MemberFactory,
    room_jid: RoomJid,
) -> None:
    """`join_room`, `send_to_room`, `room_info`, `set_partial_choice`, `chats` and
    `leave_room` of the service work on the group component it built; a room message updates
    the room's roster row (a room row, with its unread count), not a contact row."""
    alice, bob = await make_member(), await make_member()
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid])
    info = await bob.peer.service.join_room(room, "bob")
    assert (info.jid, info.nick, info.omemo_allowed) == (room, "bob", True)

    report = await alice.peer.service.send_to_room(room, "through the service")
    assert report.archive_id is not None
    got = (await bob.next_room_message(room)).message
    assert (got.body, got.sender, got.nick) == ("through the service", alice.jid, "alice")
    row = (await _room_row(bob, room)).chat
    assert (row.is_room, row.unread) == (True, 1)

    rooms = [chat for chat in await bob.peer.service.chats() if chat.is_room]
    assert [(chat.jid, chat.unread) for chat in rooms] == [(room, 1)]
    assert [m.bare_jid for m in (await bob.peer.service.room_info(room)).members] == [alice.jid]
    await bob.peer.service.set_partial_choice(room, True)
    assert (await bob.groups.prefs(room)).partial

    await bob.peer.service.leave_room(room)
    assert not [chat for chat in await bob.peer.service.chats() if chat.is_room]
    with pytest.raises(KeyError):
        await bob.peer.service.send_to_room(room, "not in the room any more")


async def test_service_without_members_refuses_to_send(
    make_member: MemberFactory,
    room_jid: RoomJid,
) -> None:
    """`send_to_room` through the service keeps the component's rule: nobody to encrypt
    for, nothing sent."""
    alice = await make_member()
    room = room_jid()
    await alice.groups.create_room(room, "alice", [])
    with pytest.raises(SendFailed, match="no other members"):
        await alice.peer.service.send_to_room(room, "to nobody")


async def test_start_rejoins_bookmarked_rooms_and_catches_up(
    make_member: MemberFactory,
    make_peer: PeerFactory,
    room_jid: RoomJid,
) -> None:
    """A room message sent while we were offline arrives when `OmemoChatService.start`
    rejoins the bookmarked room and reads its archive, without any call to the component."""
    alice, bob = await make_member(), await make_member()
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid])
    await bob.peer.service.join_room(room, "bob")
    await alice.peer.service.send_to_room(room, "while you are here")
    assert (await bob.next_room_message(room)).message.body == "while you are here"
    await bob.peer.stop()

    await alice.peer.service.send_to_room(room, "while you were away")
    await asyncio.sleep(0.3)
    again = await make_peer((bob.jid, bob.peer.password), directory=bob.peer.directory)
    assert again.service.groups is not None
    assert again.service.groups.joined_rooms() == [room]
    got = (await again.next_message()).message
    assert (got.peer, got.body, got.sender) == (room, "while you were away", alice.jid)


async def test_a_left_room_gets_no_late_roster_row(
    make_member: MemberFactory,
    room_jid: RoomJid,
) -> None:
    """A room message schedules its roster row's update a moment later; leaving the room in
    that moment must not bring the room back as a row (it came back as a stranger's contact
    row, and the roster showed a room the user had just left)."""
    alice, bob = await make_member(), await make_member()
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid])
    await bob.peer.service.join_room(room, "bob")
    await alice.peer.service.send_to_room(room, "the last word")
    await bob.next_room_message(room)
    await bob.peer.service.leave_room(room)  # the row's update is still on its way
    _drain(bob)  # what came before the leave returned may show the room
    await asyncio.sleep(ROSTER_COALESCE_S * 4)
    late = [e for e in _drain(bob) if isinstance(e, RosterChanged) and e.chat.jid == room]
    assert late == []


def _drain(member: Member) -> list[ServiceEvent]:
    """The events waiting in `member`'s queue, taken out."""
    events = []
    while not member.peer.events.empty():
        events.append(member.peer.events.get_nowait())
    return events
