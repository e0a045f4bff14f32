"""Chat states in a room (XEP-0085, issue 17): our typing goes to the room as a groupchat state
and the other members see "alice" typing; we never see our own reflection; the room's archive
keeps none of it."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from tests.muc.conftest import MemberFactory
from tui_omemo.service.api import ChatStateChanged

pytestmark = [pytest.mark.prosody]

CHATSTATES = "http://jabber.org/protocol/chatstates"


async def test_room_typing_reaches_the_others_by_nick_and_the_room_archive_keeps_none(
    make_member: MemberFactory, room_jid: Callable[[], str]
) -> None:
    """Alice types in the room, then sends nothing more: Bob gets composing then active from
    the nick "alice"; Alice gets no state of her own; a query of the room's archive returns
    no result holding a chat state."""
    alice, bob = await make_member(), await make_member()
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid])
    await bob.groups.join_room(room, "bob")
    await alice.peer.service.composing(room)
    assert await bob.peer.next_event(ChatStateChanged) == ChatStateChanged(
        room, "composing", "alice"
    )
    await alice.peer.service.chat_active(room)
    assert await bob.peer.next_event(ChatStateChanged) == ChatStateChanged(room, "active", "alice")
    await asyncio.sleep(0.05)
    assert not [e for e in alice.peer.drain_events() if isinstance(e, ChatStateChanged)]

    seen: list[ET.Element] = []
    bob.peer.xmpp.add_message_listener(seen.append)
    await bob.peer.xmpp.query_archive(archive=room)
    results = [x for x in seen if x.find("{urn:xmpp:mam:2}result") is not None]
    assert not [x for x in results if CHATSTATES in ET.tostring(x, encoding="unicode")]


async def test_a_room_message_carries_active_in_its_own_stanza(
    make_member: MemberFactory, room_jid: Callable[[], str]
) -> None:
    """XEP-0085 §5 in a room: after typing, Alice's groupchat message carries <active/> at
    its top level next to its <encrypted>; no groupchat stanza of its own says active. Bob
    sees "alice" active, then the message."""
    alice, bob = await make_member(), await make_member()
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid])
    await bob.groups.join_room(room, "bob")
    await alice.peer.service.composing(room)
    assert await bob.peer.next_event(ChatStateChanged) == ChatStateChanged(
        room, "composing", "alice"
    )
    await alice.groups.send_to_room(room, "typed and sent")
    await alice.peer.service.chat_active(room)  # what the chat screen does after a send
    assert await bob.peer.next_event(ChatStateChanged) == ChatStateChanged(room, "active", "alice")
    assert (await bob.next_room_message(room)).message.body == "typed and sent"
    stanzas = [ET.fromstring(text) for text in alice.peer.sent]
    (carrier,) = [x for x in stanzas if x.find(f"{{{CHATSTATES}}}active") is not None]
    assert carrier.get("type") == "groupchat"
    assert any(child.tag.endswith("}encrypted") for child in carrier)
