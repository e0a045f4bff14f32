"""Tampered copies never suppress the genuine message (DESIGN.md §3 invariant 2, issue 13 §2).

Over Prosody, Alice's stream delivers to Bob tampered copies of a message (each mode of
`tests/service/tampering.py`, same id and origin-id as the genuine one) and then the genuine
copy, on the three paths the inbound pipeline has: live (each copy its own unit of work),
one batch (every copy and the genuine one processed together), and MAM/offline catch-up
(the copies first in the archive page). Each time: one failure event and one failure row per
copy (empty body, never the fallback), the OMEMO state unchanged by the failures, and the
genuine message received and archived exactly once.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.service.conftest import Peer, PeerFactory, exchange, use_version
from tests.service.tampering import FALLBACK, TAMPERINGS, copies, encrypt_for, send
from tui_omemo.events import SecurityEventKind
from tui_omemo.model import Namespace
from tui_omemo.service.api import MessageReceived, MessageTrust, SecurityEventRaised
from tui_omemo.service.ports import Inbound
from tui_omemo.xmpp.messages import new_message_id

pytestmark = pytest.mark.prosody

TIMEOUT = 15.0


async def _outcome(
    bob: Peer, count: int, taken: list[SecurityEventRaised]
) -> tuple[list[SecurityEventRaised], list[str]]:
    """Bob's failure events (after those `taken` already) and the bodies of the messages he
    received, once `count` failure events and one decrypted message have come (and then a
    moment for any stray one)."""
    failures = list(taken)
    bodies: list[str] = []
    async with asyncio.timeout(TIMEOUT):
        while len(failures) < count or not [b for b in bodies if b]:
            event = await bob.events.get()
            if isinstance(event, SecurityEventRaised):
                failures.append(event)
            elif isinstance(event, MessageReceived):
                bodies.append(event.message.body)
    await bob.service.wait_idle()
    await asyncio.sleep(0.3)
    for event in bob.drain_events():
        if isinstance(event, SecurityEventRaised):
            failures.append(event)
        elif isinstance(event, MessageReceived):
            bodies.append(event.message.body)
    return failures, bodies


async def _check(
    bob: Peer,
    alice: str,
    text: str,
    namespace: Namespace,
    failed: int,
    taken: list[SecurityEventRaised] | None = None,
) -> None:
    """One phase's result: a failure event and an empty failure row per copy, the genuine
    message once (event and archive); `failed` rows are from earlier phases."""
    count = len(TAMPERINGS[namespace])
    failures, bodies = await _outcome(bob, count, taken or [])
    assert [e.event.kind for e in failures] == [SecurityEventKind.DECRYPTION_FAILED] * count
    assert sorted(bodies) == [""] * count + [text]
    history = (await bob.service.history(alice, None, 100)).messages
    assert [m.body for m in history].count(text) == 1
    rows = [m for m in history if m.trust is MessageTrust.FAILED]
    assert len(rows) == failed + count
    assert all(m.body == "" and m.failure for m in rows)
    assert not [m for m in history if FALLBACK in m.body]


@pytest.mark.parametrize("namespace", list(Namespace), ids=lambda n: n.label)
async def test_tampered_copies_then_the_genuine_one(
    make_peer: PeerFactory, namespace: Namespace
) -> None:
    """Live, in one batch and through catch-up, each tampered copy fails once without
    changing state, and the genuine copy after them is shown and archived exactly once."""
    alice, bob = await make_peer(), await make_peer()
    await use_version(namespace, alice, bob)
    await exchange(alice, bob, "hello")
    await bob.service.wait_idle()
    await asyncio.sleep(0.3)  # Bob's answer reached Alice: her messages are no key exchange
    device, count = bob.service.device_id, len(TAMPERINGS[namespace])
    bob.drain_events()

    # live: each copy processed on its own, the state unchanged after each
    genuine = await encrypt_for(alice, bob.jid, namespace, "live")
    digest, message_id = await bob.digest(), new_message_id()
    taken = []
    for copy in copies(genuine, device):
        send(alice, bob.jid, copy, message_id)
        taken.append(await bob.next_event(SecurityEventRaised))
        await bob.service.wait_idle()
        assert await bob.digest() == digest
    send(alice, bob.jid, genuine, message_id)
    await _check(bob, alice.jid, "live", namespace, 0, taken)

    # one batch: delivered by Prosody, processed together
    handler = bob.transport._inbound
    held: list[Inbound] = []
    bob.transport._inbound = held.append
    genuine = await encrypt_for(alice, bob.jid, namespace, "batch")
    message_id = new_message_id()
    for element in [*copies(genuine, device), genuine]:
        send(alice, bob.jid, element, message_id)
    async with asyncio.timeout(TIMEOUT):
        while len(held) < count + 1:  # noqa: ASYNC110 (filled by the stream's handler)
            await asyncio.sleep(0.05)
    bob.transport._inbound = handler
    await bob.service.session.accept_all(held)
    await _check(bob, alice.jid, "batch", namespace, count)

    # catch-up: Bob offline, the copies first in his archive (and in offline storage)
    await bob.stop()
    genuine = await encrypt_for(alice, bob.jid, namespace, "catch-up")
    message_id = new_message_id()
    for element in [*copies(genuine, device), genuine]:
        send(alice, bob.jid, element, message_id)
    await asyncio.sleep(0.3)
    bob = await make_peer((bob.jid, bob.password), directory=bob.directory)
    await _check(bob, alice.jid, "catch-up", namespace, 2 * count)
