"""A server restart mid-conversation (issue #4), both OMEMO versions: the restarted Prosody has
no stream-management state, so both clients' resumption is refused and each starts a fresh
session (presence, catch-up) on the same accounts. Messages Alice writes while the server is
down are queued, go out once she is back, reach Bob exactly once (he returns after them: offline
delivery and his MAM catch-up both carry them), and then the chat goes on both ways.

The test has its own Prosody (the session-wide one is shared by other tests): the `prosody`
fixture is overridden here, so `make_peer` logs in there. Reconnect attempts wait behind a
pause until the server is back (the first one, made at once, finds it stopped and fails), and
every wait is on an event.
"""

from __future__ import annotations

import asyncio
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.prosody import ProsodyServer
from tests.relay import Gate, Relay
from tests.service.conftest import (
    TIMEOUT,
    Peer,
    PeerFactory,
    all_delivered,
    connection_change,
    delivery,
    exchange,
    pending_count,
    use_version,
)
from tui_omemo.model import Namespace
from tui_omemo.service.api import Delivery, MessageReceived
from tui_omemo.service.ports import LINK_LOST, LINK_ONLINE
from tui_omemo.xmpp.client import Link, XmppClient
from tui_omemo.xmpp.errors import NotConnected
from tui_omemo.xmpp.rooms import DISCO_INFO

pytestmark = pytest.mark.prosody


class FirstAttemptThenGate(Gate):
    """A reconnect `pause` that lets attempt 0 go at once and holds later ones until opened;
    `retrying` is set when attempt 1 waits (attempt 0 failed)."""

    def __init__(self) -> None:
        super().__init__()
        self.retrying = asyncio.Event()

    async def __call__(self, attempt: int) -> None:
        if attempt == 0:
            self.attempts.append(attempt)
            return
        self.retrying.set()
        await super().__call__(attempt)


@pytest.fixture
def prosody(tmp_path: Path) -> Iterator[ProsodyServer]:
    """A Prosody of this test alone (it is restarted)."""
    server = ProsodyServer.start(tmp_path / "prosody")
    try:
        yield server
    finally:
        server.stop()


async def bodies(peer: Peer, contact: str) -> list[str]:
    """Every archived body of the chat with `contact` (order aside: a delayed message's stamp
    has whole seconds, a live one milliseconds)."""
    await peer.service.wait_idle()
    page = await peer.service.history(contact, None, 100)
    return sorted(message.body for message in page.messages)


async def back_online(peer: Peer) -> None:
    """The peer's next ConnectionChanged is a fresh session (resumption was refused)."""
    change = await connection_change(peer)
    assert (change.connected, change.detail) == (True, LINK_ONLINE)


@pytest.mark.parametrize("namespace", [Namespace.LEGACY, Namespace.V2])
async def test_messages_written_while_the_server_restarts_arrive_once(
    prosody: ProsodyServer, make_peer: PeerFactory, namespace: Namespace
) -> None:
    alice_gate, bob_gate = FirstAttemptThenGate(), FirstAttemptThenGate()
    alice = await make_peer(pause=alice_gate)
    bob = await make_peer(pause=bob_gate)
    await use_version(namespace, alice, bob)
    await exchange(alice, bob, "before")
    await alice.service.confirm_sent(TIMEOUT)
    await bob.service.confirm_sent(TIMEOUT)

    await asyncio.to_thread(prosody.stop)
    for peer in (alice, bob):
        lost = await connection_change(peer)
        assert (lost.connected, lost.detail) == (False, LINK_LOST)
    away = ["while the server was down 1", "while the server was down 2"]
    reports = [await alice.service.send(bob.jid, text) for text in away]
    assert all(report.queued for report in reports)
    ids = {report.archive_id for report in reports if report.archive_id is not None}
    assert len(ids) == len(away)
    assert await pending_count(alice) == len(away)

    async with asyncio.timeout(TIMEOUT):
        for gate in (alice_gate, bob_gate):
            await gate.retrying.wait()  # a first attempt found the server stopped

    await asyncio.to_thread(prosody.restart)
    alice_gate.open()
    await back_online(alice)
    await all_delivered(alice, ids)  # the server has them; Bob is still away
    assert [await delivery(alice, bob.jid, i) for i in sorted(ids)] == [Delivery.SENT] * 2
    assert await pending_count(alice) == 0
    bob_gate.open()
    await back_online(bob)
    got = [(await bob.next_message()).message.body for _ in away]
    assert got == away
    assert (alice_gate.attempts, bob_gate.attempts) == ([0, 1], [0, 1])

    await exchange(alice, bob, "after")  # Bob's next message: nothing came twice before it
    expected = sorted(["before", "before, back", *away, "after", "after, back"])
    assert await bodies(bob, alice.jid) == expected
    assert await bodies(alice, bob.jid) == expected


async def next_room_message(peer: Peer, room: str) -> MessageReceived:
    """The next MessageReceived of `room` (other messages are skipped)."""
    while (event := await peer.next_message()).message.peer != room:
        pass
    return event


@pytest.mark.parametrize("namespace", [Namespace.LEGACY, Namespace.V2])
async def test_a_room_message_written_while_the_server_restarts_arrives_once(
    prosody: ProsodyServer, make_peer: PeerFactory, namespace: Namespace
) -> None:
    """The same in a (persistent, members-only) room: after the restart each client joins it
    again on its fresh session; Alice's queued message goes out only then, and Bob, back
    later, gets it once from the room's archive."""
    alice_gate, bob_gate = FirstAttemptThenGate(), FirstAttemptThenGate()
    alice = await make_peer(pause=alice_gate)
    bob = await make_peer(pause=bob_gate)
    room = f"room-{secrets.token_hex(4)}@{prosody.muc_domain}"
    assert alice.service.groups is not None
    await alice.service.groups.create_room(room, "alice", [bob.jid])
    await alice.service.set_room_version(room, namespace)
    await bob.service.join_room(room, "bob")
    await alice.service.send_to_room(room, "before")
    assert (await next_room_message(bob, room)).message.body == "before"
    await alice.service.confirm_sent(TIMEOUT)

    await asyncio.to_thread(prosody.stop)
    for peer in (alice, bob):
        assert (await connection_change(peer)).detail == LINK_LOST
    report = await alice.service.send_to_room(room, "while the server was down")
    assert report.queued
    assert report.archive_id is not None
    async with asyncio.timeout(TIMEOUT):
        for gate in (alice_gate, bob_gate):
            await gate.retrying.wait()

    await asyncio.to_thread(prosody.restart)
    alice_gate.open()
    await back_online(alice)
    await all_delivered(alice, {report.archive_id})  # in the room (and its archive)
    assert await delivery(alice, room, report.archive_id) is Delivery.SENT
    bob_gate.open()
    await back_online(bob)
    got = (await next_room_message(bob, room)).message
    assert (got.body, got.sender) == ("while the server was down", alice.jid)

    await alice.service.send_to_room(room, "after")
    assert (await next_room_message(bob, room)).message.body == "after"  # nothing twice
    await bob.service.send_to_room(room, "after, back")
    assert (await next_room_message(alice, room)).message.body == "after, back"
    expected = sorted(["before", "while the server was down", "after", "after, back"])
    assert await bodies(bob, room) == expected
    assert await bodies(alice, room) == expected


async def test_a_request_in_flight_fails_once_a_fresh_session_replaces_its_stream(
    prosody: ProsodyServer,
) -> None:
    """A request whose answer the restart swallowed fails (NotConnected) as soon as the fresh
    session is up, instead of waiting out its timeout (the service may hold its engine lock
    around such a request: a bundle republished after a key exchange held up presence, keys
    and the room rejoin of the reconnect). The request goes out through a relay that falls
    silent from it on, so the server never answers it."""
    marker = f"unanswered-{secrets.token_hex(4)}"
    swallowed = asyncio.Event()

    def swallow(chunk: bytes) -> bool:  # the relay keeps that connection silent from here
        if marker.encode() not in chunk:
            return False
        swallowed.set()
        return True

    relay = Relay(prosody.port, silence_when=swallow)
    await relay.up()
    gate = Gate()
    jid, password = prosody.create_account()
    client = XmppClient(
        jid, password, host=prosody.host, port=relay.port, allow_plaintext_loopback=True, pause=gate
    )
    links: asyncio.Queue[Link] = asyncio.Queue()
    client.add_connection_listener(links.put_nowait)
    try:
        await client.connect(TIMEOUT)
        assert await links.get() is Link.ONLINE
        query = ET.Element(f"{{{DISCO_INFO}}}query", node=marker)
        pending = asyncio.create_task(
            client.request("get", query, to=None, what="an unanswered request", within=600)
        )
        async with asyncio.timeout(TIMEOUT):
            await swallowed.wait()
        await asyncio.to_thread(prosody.restart)
        await relay.down()  # the client's side of the dead stream goes too
        async with asyncio.timeout(TIMEOUT):
            assert await links.get() is Link.LOST
        await relay.up()
        gate.open()
        async with asyncio.timeout(TIMEOUT):
            assert await links.get() is Link.ONLINE  # resumption refused: a fresh session
        with pytest.raises(NotConnected):
            async with asyncio.timeout(TIMEOUT):
                await pending
        await client.ping(TIMEOUT)  # the new stream answers
    finally:
        await client.disconnect()
        await relay.down()
