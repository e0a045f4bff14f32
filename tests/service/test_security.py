"""The security invariants at the service level (DESIGN.md §3): no plaintext leaves when
encryption fails, only trusted devices get keys, BTBV ends with the first manual decision,
hostile input is rejected with a clear event, and a failed decryption changes no state."""

from __future__ import annotations

import asyncio
import dataclasses
import re

import pytest

from tests.service.conftest import Peer, PeerFactory, ServicePeer, ServicePeerFactory
from tests.service.test_delivery import count, record_inbound
from tui_omemo.events import SecurityEventKind
from tui_omemo.model import Arrival, Namespace, TrustLevel
from tui_omemo.protocol.elements import KeyElement
from tui_omemo.protocol.errors import BundleUnavailable
from tui_omemo.service.api import MessageTrust, SecurityEventRaised, SendFailed
from tui_omemo.service.ports import Inbound
from tui_omemo.xmpp.errors import TransportError

SECRET = "the launch code is 0000"


async def flushed() -> None:
    """Let slixmpp's send loop pass queued stanzas through the recording filter."""
    await asyncio.sleep(0.3)


async def assert_never_sent(peer: Peer, text: str) -> None:
    """`text` is in no outgoing stanza (so in no <body> either)."""
    await flushed()
    assert peer.sent  # the recorder works
    assert not [stanza for stanza in peer.sent if text in stanza]


def security_events(peer: ServicePeer) -> list[SecurityEventRaised]:
    return [e for e in peer.drain_events() if isinstance(e, SecurityEventRaised)]


@pytest.mark.prosody
async def test_no_plaintext_to_a_contact_without_omemo(make_peer: PeerFactory, prosody) -> None:
    """A contact with no OMEMO device: SendFailed, nothing sent, until plaintext is chosen."""
    alice = await make_peer()
    plain_jid, _ = prosody.create_account()
    with pytest.raises(SendFailed) as failure:
        await alice.service.send(plain_jid, SECRET)
    assert failure.value.report.archive_id is None
    await assert_never_sent(alice, SECRET)
    report = await alice.service.send(plain_jid, "ok, unencrypted", allow_plaintext=True)
    await flushed()
    assert report.omemo is None
    assert any("<body>ok, unencrypted</body>" in stanza for stanza in alice.sent)
    await alice.service.send(plain_jid, "remembered")  # the choice is remembered per chat
    await flushed()
    assert any("<body>remembered</body>" in stanza for stanza in alice.sent)


@pytest.mark.prosody
async def test_no_plaintext_when_every_device_is_distrusted(make_peer: PeerFactory) -> None:
    """All of the contact's devices distrusted: SendFailed naming the device, nothing sent."""
    alice = await make_peer()
    bob = await make_peer()
    await alice.service.set_trust(bob.jid, bob.service.device_id, TrustLevel.DISTRUSTED)
    with pytest.raises(SendFailed) as failure:
        await alice.service.send(bob.jid, SECRET)
    skipped = {(s.bare_jid, s.device_id): s.reason for s in failure.value.report.skipped}
    assert "distrusted" in skipped[(bob.jid, bob.service.device_id)]
    await assert_never_sent(alice, SECRET)


@pytest.mark.prosody
async def test_no_plaintext_when_bundles_cannot_be_fetched(
    make_peer: PeerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bundle fetch fails for every device: SendFailed (no bundle), nothing sent."""
    alice = await make_peer()
    bob = await make_peer()

    async def no_bundle(*_args: object) -> None:
        raise BundleUnavailable("simulated")

    monkeypatch.setattr(alice.transport, "fetch_bundle", no_bundle)
    with pytest.raises(SendFailed) as failure:
        await alice.service.send(bob.jid, SECRET)
    assert any("bundle" in s.reason for s in failure.value.report.skipped)
    await assert_never_sent(alice, SECRET)


@pytest.mark.prosody
async def test_no_plaintext_on_a_server_error(
    make_peer: PeerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The device-list request fails: SendFailed, nothing sent, nothing archived."""
    alice = await make_peer()
    bob = await make_peer()

    async def broken(*_args: object) -> None:
        raise TransportError("simulated internal-server-error")

    monkeypatch.setattr(alice.transport, "fetch_device_list", broken)
    alice.service.session._directory.invalidate()
    with pytest.raises(SendFailed):
        await alice.service.send(bob.jid, SECRET)
    await assert_never_sent(alice, SECRET)
    assert await count(alice, bob.jid) == 0


async def recipients(peer: Peer) -> set[int]:
    """The device ids with a <key> in the peer's last encrypted message."""
    await flushed()
    stanza = [s for s in peer.sent if "<encrypted" in s and "<payload>" in s][-1]
    return {int(rid) for rid in re.findall(r'rid="(\d+)"', stanza)}


@pytest.mark.prosody
async def test_btbv_then_undecided_and_distrusted_never_a_recipient(
    make_peer: PeerFactory,
) -> None:
    """Bob's first two devices are trusted blindly; after Alice verifies one and distrusts the
    other, the distrusted one never gets a key, and Bob's third (new) device starts undecided."""
    alice = await make_peer()
    bob1 = await make_peer()
    bob2 = await make_peer((bob1.jid, bob1.password))
    await alice.service.refresh_device_list(bob1.jid)
    levels = {d.device_id: d.trust for d in await alice.service.devices(bob1.jid)}
    assert levels == {
        bob1.service.device_id: TrustLevel.BLINDLY_TRUSTED,
        bob2.service.device_id: TrustLevel.BLINDLY_TRUSTED,
    }

    await alice.service.set_trust(bob1.jid, bob1.service.device_id, TrustLevel.VERIFIED)
    await alice.service.set_trust(bob1.jid, bob2.service.device_id, TrustLevel.DISTRUSTED)
    report = await alice.service.send(bob1.jid, "for verified eyes")
    assert await recipients(alice) == {bob1.service.device_id}
    assert bob2.service.device_id in {s.device_id for s in report.skipped}

    bob3 = await make_peer((bob1.jid, bob1.password))
    await alice.service.refresh_device_list(bob1.jid)
    levels = {d.device_id: d.trust for d in await alice.service.devices(bob1.jid)}
    assert levels[bob3.service.device_id] is TrustLevel.UNDECIDED
    await alice.service.send(bob1.jid, "still only the verified one")
    assert await recipients(alice) == {bob1.service.device_id}
    got = (await bob1.next_message()).message
    assert got.body == "for verified eyes"


async def _hostile(alice: Peer, bob: Peer, xml: str) -> list[SecurityEventRaised]:
    digest = await bob.digest()
    bob.drain_events()
    alice.client.send_raw(xml)
    async with asyncio.timeout(10):
        while not (events := security_events(bob)):  # noqa: ASYNC110 (events come via a pump)
            await asyncio.sleep(0.05)
    await bob.service.wait_idle()
    assert await bob.digest() == digest
    return events


@pytest.mark.prosody
async def test_hostile_stanzas_raise_events_and_change_nothing(make_peer: PeerFactory) -> None:
    """A malformed <encrypted>, a spoofed carbon and an unsolicited MAM result each raise a
    clear event; no OMEMO state changes and nothing is archived for the forged wrappers."""
    alice = await make_peer()
    bob = await make_peer()
    malformed = (
        f"<message to='{bob.jid}' type='chat' id='m1'>"
        f"<encrypted xmlns='{Namespace.V2.value}'><header sid='x'/></encrypted>"
        "</message>"
    )
    events = await _hostile(alice, bob, malformed)
    assert events[0].event.kind is SecurityEventKind.DECRYPTION_FAILED
    failed = (await bob.service.history(alice.jid, None, 5)).messages[-1]
    assert failed.trust is MessageTrust.FAILED
    assert failed.body == ""

    spoofed = (
        f"<message to='{bob.jid}' type='chat'><received xmlns='urn:xmpp:carbons:2'>"
        "<forwarded xmlns='urn:xmpp:forward:0'>"
        f"<message xmlns='jabber:client' from='carol@localhost/x' to='{bob.jid}' "
        "type='chat'><body>forged</body></message></forwarded></received></message>"
    )
    events = await _hostile(alice, bob, spoofed)
    assert "carbon" in events[0].event.detail
    unsolicited = (
        f"<message to='{bob.jid}'><result xmlns='urn:xmpp:mam:2' queryid='nope' "
        "id='r1'><forwarded xmlns='urn:xmpp:forward:0'>"
        f"<message xmlns='jabber:client' from='carol@localhost/x' to='{bob.jid}' "
        "type='chat'><body>forged</body></message></forwarded></result></message>"
    )
    events = await _hostile(alice, bob, unsolicited)
    assert "query" in events[0].event.detail
    assert await count(bob, "carol@localhost") == 0


async def test_message_from_an_unlisted_device_is_kept_not_decrypted(
    make_fake_peer: ServicePeerFactory,
) -> None:
    """A message whose sender device is not on the sender's list: an event, the stanza kept
    in the inbox (nothing lost), no decryption and no state change."""
    alice = await make_fake_peer()
    bob = await make_fake_peer()
    seen = record_inbound(bob)
    await alice.service.send(bob.jid, "genuine")
    await bob.next_message()
    await bob.service.wait_idle()
    assert seen[0].encrypted is not None
    forged = dataclasses.replace(
        seen[0],
        stanza_id="other",
        origin_id="other",
        encrypted=dataclasses.replace(seen[0].encrypted, sender_device_id=424242),
    )
    digest = await bob.digest()
    bob.drain_events()
    await bob.service.session.accept(forged)
    await asyncio.sleep(0.1)  # the event pump
    events = security_events(bob)
    assert events
    assert "not on" in events[0].event.detail
    assert await bob.digest() == digest
    assert await bob.service.runner.read(lambda uow: uow.inbox.count()) == 1


async def test_failed_decryption_leaves_state_byte_identical(
    make_fake_peer: ServicePeerFactory,
) -> None:
    """A tampered copy of a message fails: failure row + event, the OMEMO state is unchanged,
    and the genuine message still decrypts afterwards."""
    alice = await make_fake_peer()
    bob = await make_fake_peer()
    await alice.service.send(bob.jid, "first")
    await bob.next_message()
    await bob.service.wait_idle()
    await asyncio.sleep(0.3)  # Bob's empty answer reaches Alice: later messages are no KEX
    kept: asyncio.Queue[Inbound] = asyncio.Queue()
    bob.transport.set_handlers(kept.put_nowait, lambda _c, _d: None)
    await alice.service.send(bob.jid, "second")
    genuine = await asyncio.wait_for(kept.get(), 10)
    assert genuine.encrypted is not None
    own = bob.service.device_id
    keys = tuple(
        KeyElement(k.bare_jid, k.device_id, k.data[:-1] + bytes([k.data[-1] ^ 1]), k.key_exchange)
        if k.device_id == own
        else k
        for k in genuine.encrypted.keys
    )
    tampered = dataclasses.replace(
        genuine,
        stanza_id="t1",
        origin_id="t1",
        encrypted=dataclasses.replace(genuine.encrypted, keys=keys),
    )
    digest = await bob.digest()
    bob.drain_events()
    await bob.service.session.accept(tampered)
    assert await bob.digest() == digest
    await asyncio.sleep(0.1)  # the event pump
    events = security_events(bob)
    assert events[0].event.kind is SecurityEventKind.DECRYPTION_FAILED
    await bob.service.session.accept(genuine)
    messages = (await bob.service.history(alice.jid, None, 10)).messages
    assert [m.body for m in messages if m.failure is None] == ["first", "second"]
    assert sum(1 for m in messages if m.trust is MessageTrust.FAILED) == 1


async def test_plaintext_in_an_encrypted_chat_is_marked(make_fake_peer: ServicePeerFactory) -> None:
    """A plaintext message from a contact with OMEMO devices: archived with a warning and a
    security event."""
    alice = await make_fake_peer()
    bob = await make_fake_peer()
    await bob.service.refresh_device_list(alice.jid)
    bob.drain_events()
    plain = Inbound(
        arrival=Arrival.LIVE,
        sender=f"{alice.jid}/r",
        recipient=bob.jid,
        message_id="p1",
        body="hello in clear",
    )
    await bob.service.session.accept(plain)
    message = (await bob.service.history(alice.jid, None, 1)).messages[-1]
    assert (message.body, message.trust) == ("hello in clear", MessageTrust.UNENCRYPTED)
    await asyncio.sleep(0.1)  # the event pump
    kinds = [e.event.kind for e in security_events(bob)]
    assert SecurityEventKind.PLAINTEXT_IN_ENCRYPTED_CHAT in kinds
