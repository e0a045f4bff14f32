"""A NEW room message written after a fresh session began but before the rooms were joined
again (issue #4, outbox): the server would refuse a groupchat message from a non-occupant, so
it must wait in the outbox until the rejoin, go out then and reach the other member exactly
once, and not count as delivered (`MessageDelivered`, delivery state) before it went out in the
room. Both OMEMO versions, over the Prosody fixture's MUC component.

Alice's stream is cut with resumption off (a fresh session follows); her reconnect waits behind
a `Gate`, and her service's rejoin (`GroupChats.reconnected`, the real one) is held until the
test has sent, so "between the fresh session and the end of the rejoin" is a state, not a race.
"""

from __future__ import annotations

import asyncio
import secrets
import xml.etree.ElementTree as ET

import pytest

from tests.prosody import ProsodyServer
from tests.relay import Gate
from tests.service.conftest import (
    TIMEOUT,
    Peer,
    PeerFactory,
    all_delivered,
    connection_change,
    cut,
    delivery,
    pending_count,
)
from tui_omemo.model import Namespace
from tui_omemo.service.api import Delivery, MessageDelivered, MessageReceived
from tui_omemo.service.muc import GroupChats
from tui_omemo.service.ports import LINK_LOST, LINK_ONLINE

pytestmark = pytest.mark.prosody


class HeldRejoin:
    """Stands in front of a `GroupChats.reconnected`: tells when the rejoin is due and runs
    the real one only once released."""

    def __init__(self, groups: GroupChats) -> None:
        self._real = groups.reconnected
        self.due = asyncio.Event()
        self.released = asyncio.Event()

    async def __call__(self) -> None:
        self.due.set()
        await self.released.wait()
        await self._real()


def groupchat_sent(peer: Peer, room: str) -> int:
    """How many groupchat messages to `room` left the peer's process."""
    count = 0
    for text in peer.sent:
        if not text.startswith("<message"):
            continue
        element = ET.fromstring(text)
        count += element.get("type") == "groupchat" and element.get("to") == room
    return count


async def next_room_message(peer: Peer, room: str) -> MessageReceived:
    """The next MessageReceived of `room` (other messages are skipped)."""
    while (event := await peer.next_message()).message.peer != room:
        pass
    return event


@pytest.mark.parametrize("namespace", [Namespace.LEGACY, Namespace.V2])
async def test_a_room_message_written_during_the_rejoin_waits_for_it_and_arrives_once(
    prosody: ProsodyServer,
    make_peer: PeerFactory,
    monkeypatch: pytest.MonkeyPatch,
    namespace: Namespace,
) -> None:
    gate = Gate()
    alice = await make_peer(resume=False, pause=gate)
    bob = await make_peer()
    groups = alice.service.groups
    assert groups is not None
    room = f"room-{secrets.token_hex(4)}@{prosody.muc_domain}"
    await groups.create_room(room, "alice", [bob.jid])
    await groups.set_room_version(room, namespace)
    await bob.service.join_room(room, "bob")
    await alice.service.send_to_room(room, "before")
    assert (await next_room_message(bob, room)).message.body == "before"
    await alice.service.confirm_sent(TIMEOUT)
    assert await pending_count(alice) == 0

    rejoin = HeldRejoin(groups)
    monkeypatch.setattr(groups, "reconnected", rejoin)
    cut(alice)
    assert (await connection_change(alice)).detail == LINK_LOST
    gate.open()
    back = await connection_change(alice)
    assert (back.connected, back.detail) == (True, LINK_ONLINE)
    async with asyncio.timeout(TIMEOUT):
        await rejoin.due.wait()  # presence sent, caught up; the room not joined again yet

    sent_before = groupchat_sent(alice, room)
    report = await alice.service.send_to_room(room, "written during the rejoin")
    archive_id = report.archive_id
    assert archive_id is not None
    await alice.service.confirm_sent(TIMEOUT)  # whatever was handed over is confirmed now
    assert groupchat_sent(alice, room) == sent_before, "sent to a room we were not in"
    assert await delivery(alice, room, archive_id) is Delivery.PENDING
    assert not [
        event
        for event in alice.drain_events()
        if isinstance(event, MessageDelivered) and event.archive_id == archive_id
    ]
    assert await pending_count(alice) == 1
    assert report.queued

    rejoin.released.set()
    got = (await next_room_message(bob, room)).message
    assert (got.body, got.sender) == ("written during the rejoin", alice.jid)
    await all_delivered(alice, {archive_id})
    assert await delivery(alice, room, archive_id) is Delivery.SENT
    assert await pending_count(alice) == 0
    assert groupchat_sent(alice, room) == sent_before + 1

    await alice.service.send_to_room(room, "after")
    assert (await next_room_message(bob, room)).message.body == "after"  # nothing twice
    await bob.service.send_to_room(room, "after, back")
    assert (await next_room_message(alice, room)).message.body == "after, back"
    await bob.service.wait_idle()
    page = await bob.service.history(room, None, 50)
    assert [m.body for m in page.messages].count("written during the rejoin") == 1
    own = await alice.service.history(room, None, 50)
    assert [m.body for m in own.messages].count("written during the rejoin") == 1
