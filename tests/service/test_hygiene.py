"""Session hygiene: heartbeats, stale own devices, and the opt-in, rate-limited repair."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from tests.service.conftest import PeerFactory, ServicePeerFactory
from tui_omemo.config import Settings
from tui_omemo.model import Namespace
from tui_omemo.protocol.elements import KeyElement
from tui_omemo.service.ports import Inbound


def empty_messages_to(sent: list[str], jid: str) -> int:
    return sum(1 for s in sent if "<encrypted" in s and "<payload>" not in s and jid in s)


@pytest.mark.prosody
async def test_heartbeat_after_53_unanswered_messages(make_peer: PeerFactory) -> None:
    """Bob, who never answers, sends Alice one empty message once her chain reaches 53."""
    alice = await make_peer()
    bob = await make_peer()
    await alice.service.send(bob.jid, "0")
    await bob.next_message()
    await bob.service.wait_idle()
    await asyncio.sleep(0.3)
    before = empty_messages_to(bob.sent, alice.jid)
    for n in range(1, 56):
        await alice.service.send(bob.jid, str(n))
    for _ in range(55):
        await bob.next_message()
    await bob.service.wait_idle()
    await asyncio.sleep(0.3)
    assert empty_messages_to(bob.sent, alice.jid) == before + 1


async def test_stale_own_devices_get_no_key(make_fake_peer: ServicePeerFactory) -> None:
    """An own device silent for longer than stale_after_hours is skipped, and said so."""
    alice1 = await make_fake_peer(settings=Settings(stale_after_hours=1))
    alice2 = await make_fake_peer((alice1.jid, alice1.password))
    bob = await make_fake_peer()
    await alice1.service.refresh_device_list(alice1.jid)
    long_ago = 1
    await alice1.service.runner.write(
        lambda uow: [
            uow.devices.touch_message(ns, alice1.jid, alice2.service.device_id, long_ago)
            for ns in Namespace
        ]
    )
    report = await alice1.service.send(bob.jid, "not for the old laptop")
    reasons = {s.device_id: s.reason for s in report.skipped}
    assert reasons[alice2.service.device_id] == "stale own device"


@pytest.mark.prosody
async def test_repair_is_opt_in_and_rate_limited(make_peer: PeerFactory) -> None:
    """With repair on, an undecryptable message is answered by one fresh key exchange; a
    second failure within the hour is not. Off (the default): never."""
    alice = await make_peer()
    bob = await make_peer(settings=Settings(repair_broken_sessions=True))
    carol = await make_peer()
    for receiver in (bob, carol):
        await alice.service.send(receiver.jid, "hello")
        await receiver.next_message()
        await receiver.service.wait_idle()
        await asyncio.sleep(0.3)
        kept: asyncio.Queue[Inbound] = asyncio.Queue()
        receiver.transport.set_handlers(kept.put_nowait, lambda _c, _d: None)
        await alice.service.send(receiver.jid, "second")
        genuine = await asyncio.wait_for(kept.get(), 10)
        assert genuine.encrypted is not None
        own = receiver.service.device_id
        keys = tuple(
            KeyElement(
                k.bare_jid, k.device_id, k.data[:-1] + bytes([k.data[-1] ^ 1]), k.key_exchange
            )
            if k.device_id == own
            else k
            for k in genuine.encrypted.keys
        )
        broken = dataclasses.replace(genuine.encrypted, keys=keys)
        before = sum(1 for s in receiver.sent if 'kex="true"' in s)
        for tag in ("t1", "t2"):
            await receiver.service.session.accept(
                dataclasses.replace(genuine, stanza_id=tag, origin_id=tag, encrypted=broken)
            )
        await asyncio.sleep(0.3)
        after = sum(1 for s in receiver.sent if 'kex="true"' in s)
        assert after - before == (1 if receiver is bob else 0)


async def test_stale_own_devices_preview_then_removal(make_fake_peer: ServicePeerFactory) -> None:
    """An own device silent past delete_stale_after_hours is previewed, and only removed from
    our device lists when asked; this device is never removed."""
    alice1 = await make_fake_peer(settings=Settings(delete_stale_after_hours=1))
    # a stale device is one that is not running: a running one puts itself back on the list
    alice2 = await make_fake_peer((alice1.jid, alice1.password), start=False)
    for namespace in Namespace:
        await alice2.service.session.publish_device_list(namespace)
    await alice1.service.refresh_device_list(alice1.jid)
    assert await alice1.service.stale_own_devices() == []
    await alice1.service.runner.write(
        lambda uow: [
            uow.devices.touch_message(ns, alice1.jid, alice2.service.device_id, 1)
            for ns in Namespace
        ]
    )
    preview = await alice1.service.stale_own_devices()
    assert [d.device_id for d in preview] == [alice2.service.device_id]
    await alice1.service.remove_own_devices([alice2.service.device_id, alice1.service.device_id])
    for namespace in Namespace:
        listed = await alice1.transport.fetch_device_list(namespace, alice1.jid)
        assert listed.device_ids == {alice1.service.device_id}
