"""Delivery paths: carbons to our other device, MAM catch-up, offline storage, inbox recovery,
and a duplicate storm (live + carbon + MAM + resend) that must stay silent."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from tests.service.conftest import PeerFactory, ServicePeer, ServicePeerFactory
from tui_omemo.model import Arrival, Namespace
from tui_omemo.service.api import MessageReceived, MessageTrust, SecurityEventRaised
from tui_omemo.service.ports import Inbound
from tui_omemo.service.session import LAST_STANZA_ID


def record_inbound(peer: ServicePeer) -> list[Inbound]:
    """Every Inbound the peer's transport hands to the service, recorded on the way."""
    seen: list[Inbound] = []
    enqueue = peer.service.session.enqueue

    def handler(inbound: Inbound) -> None:
        seen.append(inbound)
        enqueue(inbound)

    peer.transport.set_handlers(handler, lambda _c, _d: None)
    return seen


async def count(peer: ServicePeer, jid: str) -> int:
    return await peer.service.runner.read(lambda uow: uow.archive.count(jid))


async def test_carbons_reach_our_second_device(make_fake_peer: ServicePeerFactory) -> None:
    """A message Alice sends from one device shows up, decrypted and outgoing, on her other
    device (carbon); Bob's answer reaches both of Alice's devices."""
    alice1 = await make_fake_peer()
    alice2 = await make_fake_peer((alice1.jid, alice1.password))
    bob = await make_fake_peer()
    await asyncio.sleep(0.5)  # the PEP notification of alice2's device reaches alice1
    await alice1.service.send(bob.jid, "from my laptop")
    assert (await bob.next_message()).message.body == "from my laptop"
    mirrored = (await alice2.next_message()).message
    assert (mirrored.body, mirrored.outgoing, mirrored.peer) == ("from my laptop", True, bob.jid)
    assert mirrored.trust in (MessageTrust.BLIND, MessageTrust.VERIFIED)

    await bob.service.send(alice1.jid, "to all of you")
    for device in (alice1, alice2):
        got = (await device.next_message()).message
        assert (got.body, got.outgoing, got.failure) == ("to all of you", False, None)


async def test_mam_catch_up_after_being_offline(make_fake_peer: ServicePeerFactory) -> None:
    """Messages sent while Bob was offline arrive once each on restart (MAM + offline storage
    both deliver them; duplicates are silent)."""
    alice = await make_fake_peer()
    bob = await make_fake_peer()
    await alice.service.send(bob.jid, "while you are here")
    await bob.next_message()
    await bob.stop()
    texts = [f"offline {n}" for n in range(3)]
    for text in texts:
        await alice.service.send(bob.jid, text)
    await asyncio.sleep(0.3)
    bob2 = await make_fake_peer((bob.jid, bob.password), directory=bob.directory)
    bodies = [(await bob2.next_message()).message.body for _ in texts]
    assert bodies == texts
    await bob2.service.wait_idle()
    await asyncio.sleep(0.3)
    assert await count(bob2, alice.jid) == 4
    assert not [e for e in bob2.drain_events() if isinstance(e, SecurityEventRaised)]


async def test_offline_delivery_without_catch_up(make_fake_peer: ServicePeerFactory) -> None:
    """With no MAM position (catch-up skipped), offline storage alone delivers the messages."""
    alice = await make_fake_peer()
    bob = await make_fake_peer()
    await alice.service.send(bob.jid, "hello")
    await bob.next_message()
    await bob.service.runner.write(lambda uow: uow.settings.delete(LAST_STANZA_ID))
    await bob.stop()
    await alice.service.send(bob.jid, "stored offline")
    await asyncio.sleep(0.3)
    bob2 = await make_fake_peer((bob.jid, bob.password), directory=bob.directory)
    got = (await bob2.next_message()).message
    assert got.body == "stored offline"


async def test_inbox_rows_left_by_a_crash_are_processed_at_start(
    make_fake_peer: ServicePeerFactory,
) -> None:
    """A stanza written to the inbox but never processed (crash) is decrypted at start-up."""
    alice = await make_fake_peer()
    bob = await make_fake_peer()
    kept: asyncio.Queue[Inbound] = asyncio.Queue()
    bob.transport.set_handlers(kept.put_nowait, lambda _c, _d: None)  # receive, don't process
    await alice.service.send(bob.jid, "survives a crash")
    raw = (await asyncio.wait_for(kept.get(), 10)).to_bytes()
    await bob.service.runner.write(lambda uow: uow.inbox.add(raw, Arrival.LIVE, 0))
    await bob.stop()
    bob2 = await make_fake_peer((bob.jid, bob.password), directory=bob.directory)
    got = (await bob2.next_message()).message
    assert got.body == "survives a crash"
    assert await bob2.service.runner.read(lambda uow: uow.inbox.count()) == 0


async def test_duplicate_storm_is_silent(make_fake_peer: ServicePeerFactory) -> None:
    """The same message via live delivery, a carbon, a MAM result and a stream-management
    resend is archived once, raises no event and leaves the OMEMO state unchanged."""
    alice = await make_fake_peer()
    bob = await make_fake_peer()
    seen = record_inbound(bob)
    await alice.service.send(bob.jid, "only once")
    await bob.next_message()
    await bob.service.wait_idle()  # the empty answer to the key exchange is sent
    live = seen[0]
    digest = await bob.digest()
    copies = [
        dataclasses.replace(
            live,
            arrival=Arrival.CARBON_RECEIVED,
            wrapper_from=bob.jid,
            stanza_id=None,
        ),
        dataclasses.replace(
            live,
            arrival=Arrival.MAM,
            wrapper_from=bob.jid,
            mam_query_id="q",
            solicited=True,
        ),
        live,
        dataclasses.replace(live, arrival=Arrival.OFFLINE, origin_id=None, message_id=None),
    ]
    bob.drain_events()
    for copy in copies:
        await bob.service.session.accept(copy)
    assert await count(bob, alice.jid) == 1
    assert bob.drain_events() == []
    assert await bob.digest() == digest
    assert await bob.service.runner.read(lambda uow: uow.inbox.count()) == 0
    assert not any(isinstance(e, MessageReceived) for e in bob.drain_events())


@pytest.mark.prosody
async def test_catch_up_hides_used_prekeys_then_deletes_them_and_sends_empty_messages(
    make_peer: PeerFactory,
) -> None:
    """A key exchange that arrives through MAM catch-up: the message is decrypted, the used
    prekey is gone from the bundle after catch-up, and Bob sends Alice an empty message."""
    alice = await make_peer()
    bob = await make_peer()
    await alice.service.refresh_device_list(bob.jid)
    await bob.stop()
    await alice.service.send(bob.jid, "first contact, while you sleep")
    bob2 = await make_peer((bob.jid, bob.password), directory=bob.directory, start=False)
    before = await bob2.service.session.engine.bundle(Namespace.V2)
    await bob2.service.start()
    assert (await bob2.next_message()).message.body == "first contact, while you sleep"
    await bob2.service.wait_idle()
    after = await bob2.service.session.engine.bundle(Namespace.V2)
    used = set(before.pre_keys.values()) - set(after.pre_keys.values())
    assert len(used) == 1
    assert len(after.pre_keys) == len(before.pre_keys)  # refilled
    await asyncio.sleep(0.3)
    empty = [s for s in bob2.sent if "<encrypted" in s and "<payload>" not in s and alice.jid in s]
    assert empty


async def test_first_start_on_an_empty_archive_catches_up_from_its_start(
    make_fake_peer: ServicePeerFactory,
) -> None:
    """A fresh account (empty archive) remembers "from the start", and the next start reads
    what arrived meanwhile from MAM instead of skipping to the newest message."""
    alice = await make_fake_peer()
    bob = await make_fake_peer()
    assert await bob.service.runner.read(lambda uow: uow.settings.get(LAST_STANZA_ID)) == ""
    await bob.stop()
    await alice.service.send(bob.jid, "while you were away")
    bob2 = await make_fake_peer((bob.jid, bob.password), directory=bob.directory, start=False)
    processed = await bob2.service._catch_up.run()
    assert processed == 1
    assert (await bob2.next_message()).message.body == "while you were away"
