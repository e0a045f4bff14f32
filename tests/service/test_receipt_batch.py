"""Receipts and markers that arrive together are recorded together: one unit of work for the
lot, as the inbound pipeline does for messages. A contact catching up on 1,000 of our
messages answers 1,000 receipts in a burst; one write transaction each was 1,000 commits on
our side while the contact's catch-up ran (`benchmarks/e2e.py`)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from devtools.fake_transport import FakeTransport
from tests.service.conftest import ServicePeer, ServicePeerFactory
from tui_omemo.events import SecurityEventKind
from tui_omemo.model import AckKind, Acknowledgement
from tui_omemo.service.api import Delivery, MessageDelivered, MessageSent, SecurityEventRaised

SENT = 5


def count_writes(peer: ServicePeer) -> list[int]:
    """The number of units of work the peer's DB thread runs from now on (in a list)."""
    runner: Any = peer.service.runner
    original = runner.write
    writes = [0]

    async def counted(fn: Any) -> Any:
        writes[0] += 1
        return await original(fn)

    runner.write = counted
    return writes


async def sent_ids(alice: ServicePeer, bob: ServicePeer) -> list[str]:
    """Alice sends SENT messages to Bob, whose service never sees them (so it answers
    nothing by itself); their stanza ids."""
    bob.transport.set_handlers(lambda _inbound: None, lambda _c, _d: None)
    ids = []
    for n in range(SENT):
        await alice.service.send(bob.jid, f"message {n}")
        message_id = (await alice.next_event(MessageSent)).message.message_id
        assert message_id is not None
        ids.append(message_id)
    return ids


@pytest.fixture
async def pair(make_fake_peer: ServicePeerFactory) -> tuple[ServicePeer, ServicePeer]:
    return await make_fake_peer(), await make_fake_peer()


async def test_receipts_arriving_together_are_one_unit_of_work(
    pair: tuple[ServicePeer, ServicePeer],
) -> None:
    """Five receipts handed over in one go raise five messages to delivered, each with its
    event, in one write transaction."""
    alice, bob = pair
    ids = await sent_ids(alice, bob)
    transport = alice.transport
    assert isinstance(transport, FakeTransport)
    writes = count_writes(alice)
    for message_id in ids:
        transport.acknowledged(Acknowledgement(AckKind.RECEIVED, f"{bob.jid}/phone", message_id))
    delivered = [await alice.next_event(MessageDelivered) for _ in ids]
    assert [event.delivery for event in delivered] == [Delivery.RECEIVED] * SENT
    assert len({event.archive_id for event in delivered}) == SENT
    assert writes == [1]


async def test_a_forged_receipt_in_a_burst_is_refused_alone(
    pair: tuple[ServicePeer, ServicePeer],
) -> None:
    """A receipt for a message never sent, among good ones: the good ones count, the forged
    one raises its security event, all in the same unit of work."""
    alice, bob = pair
    ids = await sent_ids(alice, bob)
    transport = alice.transport
    assert isinstance(transport, FakeTransport)
    writes = count_writes(alice)
    for message_id in [ids[0], "never-sent", ids[1]]:
        transport.acknowledged(Acknowledgement(AckKind.RECEIVED, f"{bob.jid}/phone", message_id))
    delivered = [await alice.next_event(MessageDelivered) for _ in range(2)]
    forged = (await alice.next_event(SecurityEventRaised)).event
    while forged.kind is not SecurityEventKind.FORGED_ACKNOWLEDGEMENT:  # Bob's new device …
        forged = (await alice.next_event(SecurityEventRaised)).event
    assert [event.delivery for event in delivered] == [Delivery.RECEIVED] * 2
    assert forged.bare_jid == bob.jid
    await asyncio.sleep(0.05)
    assert writes == [1]
