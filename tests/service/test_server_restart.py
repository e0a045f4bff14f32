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
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.prosody import ProsodyServer
from tests.relay import Gate
from tests.service.conftest import TIMEOUT, Peer, PeerFactory
from tests.service.test_outbox import all_delivered, delivery, pending_count
from tests.service.test_reconnect import connection_change
from tui_omemo.model import Namespace
from tui_omemo.service.api import Delivery
from tui_omemo.service.transport import LINK_LOST, LINK_ONLINE

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
    await alice.service.set_chat_version(bob.jid, namespace)
    await bob.service.set_chat_version(alice.jid, namespace)
    await alice.service.send(bob.jid, "before")
    assert (await bob.next_message()).message.body == "before"
    await bob.service.send(alice.jid, "before, back")
    assert (await alice.next_message()).message.body == "before, back"
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

    await alice.service.send(bob.jid, "after")
    assert (await bob.next_message()).message.body == "after"  # nothing twice before it
    await bob.service.send(alice.jid, "after, back")
    assert (await alice.next_message()).message.body == "after, back"
    expected = sorted(["before", "before, back", *away, "after", "after, back"])
    assert await bodies(bob, alice.jid) == expected
    assert await bodies(alice, bob.jid) == expected
