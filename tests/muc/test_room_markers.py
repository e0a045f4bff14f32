"""Issue 17 in a room, over Prosody: displayed markers (XEP-0333) in a group chat name the
room's stanza-id (Conversations sends them). Another occupant's marker is their reading: no
acknowledgement of a 1:1 message of ours, no forged-acknowledgement security event, and our
unread count stays. Our own, reflected by the room from our nick (sent by another device of
ours), is read elsewhere: the room's unread count drops to the messages after the marked one."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from tests.muc.conftest import Member, MemberFactory
from tui_omemo.events import SecurityEventKind
from tui_omemo.model import Namespace
from tui_omemo.service.api import RosterChanged

pytestmark = pytest.mark.prosody


def send_marker(member: Member, room: str, stanza_id: str) -> None:
    """A groupchat displayed marker from `member`'s stream, as Conversations sends one."""
    member.peer.xmpp.send_stanza(
        ET.fromstring(
            f'<message xmlns="jabber:client" to="{room}" type="groupchat">'
            f'<displayed xmlns="urn:xmpp:chat-markers:0" id="{stanza_id}"/></message>'
        )
    )


async def room_unread(member: Member, room: str) -> int:
    """The unread count the room's roster row shows now (the newest `RosterChanged`)."""
    await asyncio.sleep(0.5)  # the roster row follows within a quarter second
    rows = [
        event.chat.unread
        for event in member.peer.drain_events()
        if isinstance(event, RosterChanged) and event.chat.jid == room
    ]
    return rows[-1] if rows else -1


async def test_room_markers_ours_read_elsewhere_an_occupants_no_forgery(
    make_member: MemberFactory, room_jid: Callable[[], str]
) -> None:
    alice, bob = await make_member(), await make_member()
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid])
    await bob.groups.join_room(room, "bob")
    for member in (alice, bob):
        await member.groups.set_room_version(room, Namespace.V2)
    for text in ("one", "two", "three"):
        await bob.groups.send_to_room(room, text)
    ids = [(await alice.next_room_message(room)).message.message_id for _ in "123"]
    assert None not in ids
    assert await room_unread(alice, room) == 3

    send_marker(bob, room, str(ids[2]))  # Bob's reading, not ours
    await bob.groups.send_to_room(room, "four")  # the room keeps the order
    ids.append((await alice.next_room_message(room)).message.message_id)
    assert await room_unread(alice, room) == 4

    send_marker(alice, room, str(ids[1]))  # reflected from our nick: read up to "two"
    assert await room_unread(alice, room) == 2
    kinds = await alice.peer.service.runner.read(
        lambda uow: [event.kind for event in uow.security_events.recent(20)]
    )
    assert SecurityEventKind.FORGED_ACKNOWLEDGEMENT not in kinds
