"""The interop harness proves itself: python-omemo peer ↔ peer through our wire values only.

If these pass, `peers.py` converts bundles and elements faithfully in both directions, so a
failure in the engine interop suites points at the engine, not at the harness.
"""

from __future__ import annotations

import pytest

from tests.protocol.peers import V2_EMPTY_KEY, Peer, bundle_from_xml, bundle_to_xml
from tui_omemo.model import Namespace

NAMESPACES = [Namespace.LEGACY, Namespace.V2]


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_bundle_shape_and_xml_round_trip(namespace: Namespace) -> None:
    peer = await Peer.create(namespace, "a@example.org", 11, pre_keys=5)
    bundle = await peer.bundle()
    size = 33 if namespace is Namespace.LEGACY else 32
    assert len(bundle.identity_key) == size
    assert len(bundle.signed_pre_key) == size
    assert len(bundle.signed_pre_key_signature) == 64
    assert len(bundle.pre_keys) == 5
    assert all(len(key) == size for key in bundle.pre_keys.values())
    if namespace is Namespace.LEGACY:
        assert bundle.identity_key[0] == bundle.signed_pre_key[0] == 0x05
        assert bundle.signed_pre_key_signature[63] >> 7 == await peer.sign_bit()
    assert bundle_from_xml(bundle_to_xml(bundle), namespace) == bundle


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_their_parser_accepts_the_converted_bundle(namespace: Namespace) -> None:
    """WireBundle → XML → their parser gives back their own bundle (sign bit recovered)."""
    peer = await Peer.create(namespace, "a@example.org", 11, pre_keys=3)
    parsed = peer.parse_bundle(await peer.bundle(), "a@example.org", 11)
    assert parsed == await peer.backend.get_bundle("a@example.org", 11)


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_peer_to_peer_conversation(namespace: Namespace) -> None:
    """KEX, repeated KEX, answer, confirmation, ratchet steps and empty messages both ways."""
    alice = await Peer.create(namespace, "alice@example.org", 1, pre_keys=5)
    bob = await Peer.create(namespace, "bob@example.org", 2, pre_keys=5)

    first = await alice.encrypt([bob.ref], b"hello bob", {bob.ref: await bob.bundle()})
    assert first.keys[0].key_exchange
    got = await bob.decrypt(first, "alice@example.org")
    assert (got.plaintext, got.key_exchange, got.new_session) == (b"hello bob", True, True)

    # Alice has heard nothing yet, so she repeats the key exchange; Bob reuses the session.
    second = await alice.encrypt([bob.ref], b"again")
    assert second.keys[0].key_exchange
    got = await bob.decrypt(second, "alice@example.org")
    assert (got.plaintext, got.new_session) == (b"again", False)

    empty = await bob.encrypt([alice.ref], None)
    assert empty.payload is None
    assert not empty.keys[0].key_exchange
    got = await alice.decrypt(empty, "bob@example.org")
    assert got.plaintext is None
    if namespace is Namespace.V2:
        assert got.key_material == V2_EMPTY_KEY
    else:
        assert len(got.key_material) == 16
        assert empty.iv is not None

    third = await alice.encrypt([bob.ref], "ünïcode".encode())
    assert not third.keys[0].key_exchange  # confirmed now
    assert (await bob.decrypt(third, "alice@example.org")).plaintext == "ünïcode".encode()
    for i in range(3):
        reply = await bob.encrypt([alice.ref], b"r%d" % i)
        assert (await alice.decrypt(reply, "bob@example.org")).plaintext == b"r%d" % i


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_peer_sends_to_several_devices(namespace: Namespace) -> None:
    alice = await Peer.create(namespace, "alice@example.org", 1, pre_keys=3)
    bobs = [await Peer.create(namespace, "bob@example.org", i, pre_keys=3) for i in (2, 3)]
    bundles = {bob.ref: await bob.bundle() for bob in bobs}
    element = await alice.encrypt([bob.ref for bob in bobs], b"to both", bundles)
    assert [key.device_id for key in element.keys] == [2, 3]
    for bob in bobs:
        assert (await bob.decrypt(element, "alice@example.org")).plaintext == b"to both"


async def test_legacy_payload_shape() -> None:
    """0.3: 12-byte IV, tagless GCM payload as long as the body, 32-byte key‖tag."""
    alice = await Peer.create(Namespace.LEGACY, "alice@example.org", 1, pre_keys=2)
    bob = await Peer.create(Namespace.LEGACY, "bob@example.org", 2, pre_keys=2)
    element = await alice.encrypt([bob.ref], b"x" * 21, {bob.ref: await bob.bundle()})
    assert element.iv is not None
    assert len(element.iv) == 12
    assert element.payload is not None
    assert len(element.payload) == 21
    assert element.keys[0].data[0] == 0x33
    assert len((await bob.decrypt(element, "alice@example.org")).key_material) == 32
