"""Our engine against python-omemo (oldmemo / twomemo), byte for byte, both directions.

Each conversation goes: one side builds a session from the other's bundle and sends a key
exchange, the other answers, both confirm, ratchet steps follow, empty messages go both ways.
OMEMO 2 plaintexts are SCE envelope bytes; nothing here parses them.
"""

from __future__ import annotations

import copy

import pytest
import xeddsa

from tests.fakes import FakeDevice, MemoryDirectory, MemoryStateStore, as_received
from tests.protocol.peers import V2_EMPTY_KEY, MemoryStorage, Peer
from tui_omemo.model import Namespace

NAMESPACES = [Namespace.LEGACY, Namespace.V2]
US, THEM = "us@example.org", "them@example.net"
PRE_KEYS = 30  # enough for any minimum-prekey rule (0.3: 20, OMEMO 2: 25)


def body(namespace: Namespace, text: str) -> bytes:
    """The plaintext as the engine takes it: the body (0.3) or an SCE envelope (2)."""
    if namespace is Namespace.LEGACY:
        return text.encode()
    return (
        "<envelope xmlns='urn:xmpp:sce:1'><content><body xmlns='jabber:client'>"
        f"{text}</body></content><rpad>xyz</rpad><from jid='{US}'/></envelope>"
    ).encode()


def curve(identity_key_ed: bytes) -> bytes:
    return xeddsa.ed25519_pub_to_curve25519_pub(identity_key_ed)


async def setup(namespace: Namespace) -> tuple[FakeDevice, Peer]:
    directory = MemoryDirectory()
    us = await FakeDevice.create(US, directory)
    peer = await Peer.create(namespace, THEM, 4242, pre_keys=PRE_KEYS)
    directory.publish(THEM, peer.device_id, await peer.bundle())
    return us, peer


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_our_bundle_has_the_wire_shape(namespace: Namespace) -> None:
    us, peer = await setup(namespace)
    bundle = await us.engine.bundle(namespace)
    if namespace is Namespace.LEGACY:
        assert bundle.identity_key == b"\x05" + us.engine.identity_key
        sign = us.engine.identity_key_ed25519[31] >> 7
        assert bundle.signed_pre_key_signature[63] >> 7 == sign
        assert all(len(k) == 33 and k[0] == 5 for k in bundle.pre_keys.values())
    else:
        assert bundle.identity_key == us.engine.identity_key_ed25519
        assert all(len(k) == 32 for k in bundle.pre_keys.values())
    assert curve(us.engine.identity_key_ed25519) == us.engine.identity_key
    assert len(bundle.pre_keys) >= 25
    # their parser takes it: schema, sign bit, and the signature checked when a session is built
    parsed = peer.parse_bundle(bundle, US, us.engine.device_id)
    assert parsed.identity_key == us.engine.identity_key_ed25519


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_they_start_we_answer(namespace: Namespace) -> None:
    """Their key exchange from our bundle → we decrypt → we answer → they decrypt, and on."""
    us, peer = await setup(namespace)
    our_bundle = await us.engine.bundle(namespace)
    first = await peer.encrypt([us.ref], body(namespace, "hello"), {us.ref: our_bundle})
    got = await us.receive(first, THEM)
    assert got.plaintext == body(namespace, "hello")
    assert got.key_exchange
    assert got.pre_key_consumed
    assert got.sender == peer.ref
    assert got.sender_identity_key == curve(await peer.identity_key_ed25519())
    assert got.namespace is namespace

    if got.send_empty_message:
        empty = await us.send_as_received(namespace, [peer.ref], None)
        assert empty.payload is None
        assert (await peer.decrypt(empty, US)).plaintext is None

    answer = await us.send_as_received(namespace, [THEM], body(namespace, "hi back"))
    key = answer.key_for(peer.device_id)
    assert key is not None
    assert not key.key_exchange  # a passive session never sends key exchanges
    assert (await peer.decrypt(answer, US)).plaintext == body(namespace, "hi back")

    second = await peer.encrypt([us.ref], body(namespace, "confirmed"))
    assert not second.keys[0].key_exchange
    got = await us.receive(second, THEM)
    assert (got.plaintext, got.key_exchange) == (body(namespace, "confirmed"), False)
    await ping_pong(us, peer, namespace, rounds=3)


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_we_start_they_answer(namespace: Namespace) -> None:
    """Our key exchange from their bundle → they decrypt → they answer → we decrypt."""
    us, peer = await setup(namespace)
    first = await us.send_as_received(namespace, [THEM], body(namespace, "first"))
    key = first.key_for(peer.device_id)
    assert key is not None
    assert key.key_exchange
    got = await peer.decrypt(first, US)
    assert (got.plaintext, got.new_session) == (body(namespace, "first"), True)

    # nothing heard back yet: the key exchange is repeated, and they reuse their session
    again = await us.send_as_received(namespace, [THEM], body(namespace, "again"))
    again_key = again.key_for(peer.device_id)
    assert again_key is not None
    assert again_key.key_exchange
    got = await peer.decrypt(again, US)
    assert (got.plaintext, got.new_session) == (body(namespace, "again"), False)

    reply = await peer.encrypt([us.ref], body(namespace, "reply"))
    assert (await us.receive(reply, THEM)).plaintext == body(namespace, "reply")

    third = await us.send_as_received(namespace, [THEM], body(namespace, "third"))
    third_key = third.key_for(peer.device_id)
    assert third_key is not None
    assert not third_key.key_exchange  # confirmed by their reply
    assert (await peer.decrypt(third, US)).plaintext == body(namespace, "third")
    await ping_pong(us, peer, namespace, rounds=3)


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_empty_messages_both_ways(namespace: Namespace) -> None:
    """An empty message can open a session (ours and theirs) and travel on an open one."""
    us, peer = await setup(namespace)
    opener = await us.send_as_received(namespace, [THEM], None)
    assert opener.payload is None
    if namespace is Namespace.LEGACY:
        assert opener.iv is not None  # 0.3 keeps <iv> in key-transport messages
    got = await peer.decrypt(opener, US)
    assert got.plaintext is None
    if namespace is Namespace.V2:
        assert got.key_material == V2_EMPTY_KEY
    else:
        assert len(got.key_material) == 16  # a bare key, no tag

    theirs = await peer.encrypt([us.ref], None)
    result = await us.receive(theirs, THEM)
    assert result.plaintext is None
    assert not result.key_exchange

    # and the other way round: their empty key exchange opens a session with a fresh engine
    us2, peer2 = await setup(namespace)
    kex = await peer2.encrypt([us2.ref], None, {us2.ref: await us2.engine.bundle(namespace)})
    result = await us2.receive(kex, THEM)
    assert (result.plaintext, result.key_exchange) == (None, True)


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_out_of_order_from_them(namespace: Namespace) -> None:
    us, peer = await setup(namespace)
    first = await peer.encrypt(
        [us.ref], body(namespace, "0"), {us.ref: await us.engine.bundle(namespace)}
    )
    await us.receive(first, THEM)
    await peer.decrypt(await us.send_as_received(namespace, [THEM], body(namespace, "ack")), US)
    later = [await peer.encrypt([us.ref], body(namespace, str(i))) for i in range(1, 5)]
    for i in (3, 1, 4, 2):
        assert (await us.receive(later[i - 1], THEM)).plaintext == body(namespace, str(i))


async def ping_pong(us: FakeDevice, peer: Peer, namespace: Namespace, rounds: int) -> None:
    """Alternate messages so that every round is a DH ratchet step on both sides."""
    for i in range(rounds):
        ours = await us.send_as_received(namespace, [peer.ref], body(namespace, f"us {i}"))
        assert (await peer.decrypt(ours, US)).plaintext == body(namespace, f"us {i}")
        theirs = await peer.encrypt([us.ref], body(namespace, f"them {i}"))
        assert (await us.receive(theirs, THEM)).plaintext == body(namespace, f"them {i}")


async def engines_with_both_sign_bits(directory: MemoryDirectory) -> dict[int, FakeDevice]:
    found: dict[int, FakeDevice] = {}
    for _ in range(64):
        device = await FakeDevice.create(US, directory, publish=False)
        found.setdefault(device.engine.identity_key_ed25519[31] >> 7, device)
        if len(found) == 2:
            return found
    raise AssertionError("64 identities, all with the same sign bit")


async def peers_with_both_sign_bits() -> dict[int, Peer]:
    found: dict[int, Peer] = {}
    for _ in range(64):
        peer = await Peer.create(Namespace.LEGACY, THEM, 4242, pre_keys=PRE_KEYS)
        found.setdefault(await peer.sign_bit(), peer)
        if len(found) == 2:
            return found
    raise AssertionError("64 identities, all with the same sign bit")


async def test_both_xeddsa_sign_bits_interoperate_in_legacy() -> None:
    """0.3 moves the Ed25519 sign bit through the SPK signature (§2.2): every combination of our
    and their sign bit must work in both directions."""
    namespace = Namespace.LEGACY
    ours = await engines_with_both_sign_bits(MemoryDirectory())
    theirs = await peers_with_both_sign_bits()
    for our_bit, template in ours.items():
        for their_bit, peer_template in theirs.items():
            # we start: fresh directory with their bundle, our engine restored from its store
            directory = MemoryDirectory()
            us = await FakeDevice.create(US, directory, MemoryStateStore(template.store.data))
            storage = MemoryStorage()
            storage.data = copy.deepcopy(peer_template.storage.data)
            peer = await Peer.create(namespace, THEM, 4242, storage=storage)
            directory.publish(THEM, peer.device_id, await peer.bundle())
            bundle = await us.engine.bundle(namespace)
            assert bundle.signed_pre_key_signature[63] >> 7 == our_bit
            element = await us.send_as_received(namespace, [THEM], b"from us")
            got = await peer.decrypt(element, US, sign_bit=bool(our_bit))
            assert got.plaintext == b"from us", (our_bit, their_bit)
            # they start, to a second engine of ours
            fresh = await FakeDevice.create("other@example.org", directory)
            kex = await peer.encrypt(
                [fresh.ref], b"from them", {fresh.ref: await fresh.engine.bundle(namespace)}
            )
            result = await fresh.receive(as_received(kex), THEM)
            assert result.plaintext == b"from them", (our_bit, their_bit)
            assert result.sender_identity_key == curve(await peer.identity_key_ed25519())
