"""Tampered copies of a room message ahead of the genuine one (issue 13 §2 for group chat,
DESIGN.md §3 invariant 2): each copy one failure event and one empty failure row, the genuine
message once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.muc.conftest import MemberFactory
from tests.service.tampering import FALLBACK, TAMPERINGS, copies, encrypt_for, send
from tui_omemo.events import SecurityEventKind
from tui_omemo.model import Namespace
from tui_omemo.service.api import MessageReceived, SecurityEventRaised
from tui_omemo.xmpp.messages import new_message_id

pytestmark = [pytest.mark.prosody]


@pytest.mark.parametrize("namespace", list(Namespace), ids=lambda n: n.label)
async def test_tampered_room_copies_never_suppress_the_genuine_message(
    make_member: MemberFactory, room_jid: Callable[[], str], namespace: Namespace
) -> None:
    """Alice's stream puts every tampered copy, then the genuine message, into the room;
    Bob reports each copy once and reads the genuine message once."""
    alice, bob = await make_member(), await make_member()
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid])
    await bob.groups.join_room(room, "bob")
    for member in (alice, bob):
        await member.groups.set_room_version(room, namespace)
    await alice.groups.send_to_room(room, "hello")
    assert (await bob.next_room_message(room)).message.body == "hello"
    await bob.groups.send_to_room(room, "hello back")  # Alice's session is confirmed
    assert (await alice.next_room_message(room)).message.body == "hello back"
    bob.peer.drain_events()

    genuine = await encrypt_for(alice.peer, bob.jid, namespace, "genuine", room=room)
    message_id = new_message_id()
    for element in [*copies(genuine, bob.peer.service.device_id), genuine]:
        send(alice.peer, room, element, message_id, "groupchat")
    events = []
    async with asyncio.timeout(20):
        while not [e for e in events if isinstance(e, MessageReceived) and e.message.body]:
            events.append(await bob.peer.events.get())
    await bob.groups.wait_idle()
    await asyncio.sleep(0.3)
    events += bob.peer.drain_events()
    bodies = [e.message.body for e in events if isinstance(e, MessageReceived)]
    count = len(TAMPERINGS[namespace])
    assert sorted(bodies) == [""] * count + ["genuine"]
    failures = [e.event.kind for e in events if isinstance(e, SecurityEventRaised)]
    assert failures == [SecurityEventKind.DECRYPTION_FAILED] * count
    history = (await bob.peer.service.history(room, None, 50)).messages
    assert [m.body for m in history].count("genuine") == 1
    assert len([m for m in history if m.failure]) == count
    assert not [m for m in history if FALLBACK in m.body]
