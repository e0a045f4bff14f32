"""The outbox (issue #4): a message written while the stream is down is archived as pending,
reported as queued, sent once the stream is back (resumed or fresh) and then marked sent; a
resend of a message that did arrive shows once at the contact. Both OMEMO versions, over the
Prosody fixture; the stream is cut under the client as a network failure would cut it.
"""

from __future__ import annotations

import pytest

from tests.relay import Gate
from tests.service.conftest import (
    TIMEOUT,
    Peer,
    PeerFactory,
    all_delivered,
    connection_change,
    cut,
    delivery,
    exchange,
    pending_count,
    use_version,
)
from tui_omemo.model import Namespace
from tui_omemo.service.api import Delivery
from tui_omemo.service.outbox import Outbox
from tui_omemo.service.ports import LINK_LOST
from tui_omemo.xmpp.errors import TransportError

pytestmark = pytest.mark.prosody


async def pair(
    make_peer: PeerFactory, namespace: Namespace, *, resume: bool, gate: Gate
) -> tuple[Peer, Peer]:
    alice = await make_peer()
    bob = await make_peer(resume=resume, pause=gate)
    await use_version(namespace, alice, bob)
    await exchange(bob, alice, "hello")
    await bob.service.confirm_sent(TIMEOUT)  # "hello" is confirmed: nothing pending
    assert await pending_count(bob) == 0
    return alice, bob


@pytest.mark.parametrize("resume", [True, False], ids=["resumed", "fresh-session"])
@pytest.mark.parametrize("namespace", [Namespace.LEGACY, Namespace.V2])
async def test_a_message_written_offline_is_queued_then_sent_once_on_reconnect(
    make_peer: PeerFactory, namespace: Namespace, resume: bool
) -> None:
    gate = Gate()
    alice, bob = await pair(make_peer, namespace, resume=resume, gate=gate)
    cut(bob)
    assert (await connection_change(bob)).detail == LINK_LOST

    offline = ["written offline 1", "written offline 2"]
    reports = [await bob.service.send(alice.jid, text) for text in offline]
    assert all(report.queued for report in reports)
    ids = [report.archive_id for report in reports]
    assert all(archive_id is not None for archive_id in ids)
    assert [await delivery(bob, alice.jid, i) for i in ids if i] == [Delivery.PENDING] * 2
    assert await pending_count(bob) == 2

    gate.open()
    got = [(await alice.next_message()).message.body for _ in offline]
    assert got == offline
    await all_delivered(bob, {i for i in ids if i is not None})
    # issue 17: Alice has them, so her receipts may have raised them already
    states = [await delivery(bob, alice.jid, i) for i in ids if i]
    assert set(states) <= {Delivery.SENT, Delivery.RECEIVED}
    assert len(states) == 2
    assert await pending_count(bob) == 0

    await bob.service.send(alice.jid, "after")
    assert (await alice.next_message()).message.body == "after"  # nothing twice before it
    await alice.service.wait_idle()
    history = await alice.service.history(bob.jid, None, 50)
    bodies = [message.body for message in history.messages]
    assert all(bodies.count(text) == 1 for text in offline)


async def lost_answer(_within: float) -> None:
    raise TransportError("the stream broke before the server answered")


@pytest.mark.parametrize("namespace", [Namespace.LEGACY, Namespace.V2])
async def test_a_resend_of_a_message_that_arrived_shows_once_at_the_contact(
    make_peer: PeerFactory, namespace: Namespace
) -> None:
    gate = Gate()
    alice, bob = await pair(make_peer, namespace, resume=True, gate=gate)
    real = bob.service.session.outbox
    # The server gets the message but its confirmation is lost with the stream.
    bob.service.session.outbox = Outbox(
        bob.transport, bob.service.runner, lambda _event: None, lost_answer
    )
    report = await bob.service.send(alice.jid, "arrived, unconfirmed")
    assert not report.queued
    assert (await alice.next_message()).message.body == "arrived, unconfirmed"
    await bob.service.session.outbox.close()
    assert await pending_count(bob) == 1
    bob.service.session.outbox = real

    cut(bob)
    assert (await connection_change(bob)).detail == LINK_LOST
    gate.open()
    assert report.archive_id is not None
    await all_delivered(bob, {report.archive_id})  # sent again, confirmed
    await bob.service.send(alice.jid, "next")
    assert (await alice.next_message()).message.body == "next"  # no second copy before it
    await alice.service.wait_idle()
    history = await alice.service.history(bob.jid, None, 50)
    assert [m.body for m in history.messages].count("arrived, unconfirmed") == 1
