"""Hostile and broken input: every failure raises its typed error and changes no state.

DESIGN.md §3 invariant 2: a failed decryption leaves session, skipped keys, prekeys and trust
byte-identical. Each case below hashes the whole store before and after, and most finish by
decrypting the untouched original, which proves the state really was intact.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests.fakes import FakeDevice, MemoryDirectory, trust_everyone
from tests.protocol.peers import Peer, encrypt_key_material
from tests.protocol.test_vectors import field_bytes, field_varint
from tui_omemo.model import Namespace
from tui_omemo.protocol.elements import EncryptedElement, KeyElement
from tui_omemo.protocol.errors import (
    AuthenticationFailed,
    Duplicate,
    MalformedMessage,
    ProtocolError,
    TooManySkipped,
    UnknownPreKey,
)
from tui_omemo.protocol.legacy import wire as legacy_wire
from tui_omemo.protocol.results import SkipReason
from tui_omemo.protocol.v2 import wire as v2_wire

NAMESPACES = [Namespace.LEGACY, Namespace.V2]
US, THEM = "us@example.org", "them@example.net"
TAMPERED = (AuthenticationFailed, MalformedMessage, UnknownPreKey, TooManySkipped, Duplicate)


async def rejected(
    us: FakeDevice, element: EncryptedElement, errors: tuple[type[ProtocolError], ...]
) -> None:
    """`element` raises one of `errors` and the whole store stays byte-identical."""
    before = us.store.digest()
    with pytest.raises(errors):
        await us.engine.decrypt(element, THEM)
    assert us.store.digest() == before


def with_key_data(element: EncryptedElement, data: bytes) -> EncryptedElement:
    key = dataclasses.replace(element.keys[0], data=data)
    return dataclasses.replace(element, keys=(key,))


def flips(data: bytes, every_bit: bool) -> Iterator[bytes]:
    """`data` with one bit flipped: every bit, or one bit per byte (the bit rotates)."""
    for index in range(len(data)):
        bits = range(8) if every_bit else (index % 8,)
        for bit in bits:
            mutated = bytearray(data)
            mutated[index] ^= 1 << bit
            yield bytes(mutated)


async def new_pair(namespace: Namespace) -> tuple[FakeDevice, Peer]:
    directory = MemoryDirectory()
    us = await FakeDevice.create(US, directory)
    peer = await Peer.create(namespace, THEM, 4242, pre_keys=30)
    directory.publish(THEM, peer.device_id, await peer.bundle())
    return us, peer


async def established(namespace: Namespace) -> tuple[FakeDevice, Peer]:
    """A confirmed session in both directions (no key exchanges any more)."""
    us, peer = await new_pair(namespace)
    kex = await peer.encrypt([us.ref], b"open", {us.ref: await us.engine.bundle(namespace)})
    await us.receive(kex, THEM)
    await peer.decrypt(await us.send_as_received(namespace, [THEM], b"ack"), US)
    return us, peer


@pytest.mark.slow
@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_every_bit_flip_of_a_key_and_of_the_payload(namespace: Namespace) -> None:
    us, peer = await established(namespace)
    message = await peer.encrypt([us.ref], b"an ordinary message")
    for data in flips(message.keys[0].data, every_bit=True):
        await rejected(us, with_key_data(message, data), TAMPERED)
    assert message.payload is not None
    for payload in flips(message.payload, every_bit=True):
        await rejected(us, dataclasses.replace(message, payload=payload), (AuthenticationFailed,))
    assert (await us.receive(message, THEM)).plaintext == b"an ordinary message"


@pytest.mark.slow
@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_bit_flips_of_a_key_exchange(namespace: Namespace) -> None:
    """One bit per byte (rotating) plus every bit of the last byte of each Curve25519 key.

    X25519 ignores the top bit of a public u-coordinate (RFC 7748 §5), so flipping bit 255 of
    the ephemeral key (and of the 0.3 Curve-form identity key) may still give the same shared
    secret: such a copy may decrypt, but only to the original plaintext.
    """
    us, peer = await new_pair(namespace)
    kex = await peer.encrypt([us.ref], b"hello", {us.ref: await us.engine.bundle(namespace)})
    data = kex.keys[0].data
    top_bits = {data.find(key) + 31 for key in _curve_keys(namespace, data)}
    for index in range(len(data)):
        for bit in range(8) if index in top_bits else (index % 8,):
            mutated = bytearray(data)
            mutated[index] ^= 1 << bit
            if index in top_bits and bit == 7:
                await accepted_or_rejected(us, with_key_data(kex, bytes(mutated)), b"hello")
            else:
                await rejected(us, with_key_data(kex, bytes(mutated)), TAMPERED)
    assert (await us.receive(kex, THEM)).plaintext == b"hello"


def _curve_keys(namespace: Namespace, data: bytes) -> list[bytes]:
    """The raw 32-byte Curve25519 keys inside a key exchange (ephemeral; 0.3 also identity)."""
    if namespace is Namespace.LEGACY:
        parsed = legacy_wire.parse_pre_key_whisper(data)
        return [parsed.base_key, parsed.identity_key]
    return [v2_wire.parse_key_exchange(data).ephemeral_key]


async def accepted_or_rejected(us: FakeDevice, element: EncryptedElement, expected: bytes) -> None:
    """Either a typed rejection with no state change, or the expected plaintext (uncommitted)."""
    before = us.store.digest()
    try:
        result = await us.engine.decrypt(element, THEM)
    except TAMPERED:
        pass
    else:
        assert result.plaintext == expected
    assert us.store.digest() == before


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_truncation_at_every_length(namespace: Namespace) -> None:
    us, peer = await established(namespace)
    message = await peer.encrypt([us.ref], b"truncate me")
    data = message.keys[0].data
    for length in range(len(data)):
        await rejected(us, with_key_data(message, data[:length]), TAMPERED)
    assert message.payload is not None
    for length in range(len(message.payload)):
        payload = message.payload[:length]
        await rejected(us, dataclasses.replace(message, payload=payload), TAMPERED)
    assert (await us.receive(message, THEM)).plaintext == b"truncate me"


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_truncated_key_exchange(namespace: Namespace) -> None:
    us, peer = await new_pair(namespace)
    kex = await peer.encrypt([us.ref], b"hello", {us.ref: await us.engine.bundle(namespace)})
    data = kex.keys[0].data
    for length in range(0, len(data), 3):
        await rejected(us, with_key_data(kex, data[:length]), TAMPERED)
    assert (await us.receive(kex, THEM)).plaintext == b"hello"


@pytest.mark.parametrize("version", [0x00, 0x23, 0x32, 0x34, 0x43])
async def test_wrong_version_byte(version: int) -> None:
    us, peer = await new_pair(Namespace.LEGACY)
    kex = await peer.encrypt([us.ref], b"v", {us.ref: await us.engine.bundle(Namespace.LEGACY)})
    data = kex.keys[0].data
    await rejected(us, with_key_data(kex, bytes([version]) + data[1:]), (MalformedMessage,))
    inner = legacy_wire.parse_pre_key_whisper(data)
    bad_inner = bytes([version]) + inner.message[1:]
    bad = legacy_wire.encode_pre_key_whisper(dataclasses.replace(inner, message=bad_inner))
    await rejected(us, with_key_data(kex, bad), (MalformedMessage,))
    await us.receive(kex, THEM)
    await peer.decrypt(await us.send_as_received(Namespace.LEGACY, [THEM], b"ack"), US)
    message = await peer.encrypt([us.ref], b"w")
    data = message.keys[0].data
    await rejected(us, with_key_data(message, bytes([version]) + data[1:]), (MalformedMessage,))
    assert (await us.receive(message, THEM)).plaintext == b"w"


async def test_legacy_iv_sizes() -> None:
    """A 16-byte IV (older Conversations) is accepted; other sizes are refused unchanged."""
    us, peer = await established(Namespace.LEGACY)
    for size in (0, 8, 11, 13, 15, 17, 32):
        key, iv = os.urandom(16), os.urandom(size) if size else b""
        sealed = AESGCM(key).encrypt(os.urandom(12), b"x", None)  # any IV: it must not get there
        element = await encrypt_key_material(peer, us.ref, key + sealed[-16:], iv, sealed[:-16])
        await rejected(us, element, (MalformedMessage, AuthenticationFailed))
    missing = await encrypt_key_material(peer, us.ref, os.urandom(32), None, b"payload")
    await rejected(us, missing, (MalformedMessage,))
    # the ratchet messages above were consumed by nobody: a fresh one still decrypts after them
    key, iv = os.urandom(16), os.urandom(16)
    sealed = AESGCM(key).encrypt(iv, b"sixteen-byte iv", None)
    element = await encrypt_key_material(peer, us.ref, key + sealed[-16:], iv, sealed[:-16])
    assert (await us.receive(element, THEM)).plaintext == b"sixteen-byte iv"


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_replays_are_duplicates(namespace: Namespace) -> None:
    """A replayed key exchange and a replayed message raise Duplicate and change nothing."""
    us, peer = await new_pair(namespace)
    kex = await peer.encrypt([us.ref], b"once", {us.ref: await us.engine.bundle(namespace)})
    await us.receive(kex, THEM)
    await rejected(us, kex, (Duplicate,))
    await peer.decrypt(await us.send_as_received(namespace, [THEM], b"ack"), US)
    message = await peer.encrypt([us.ref], b"twice?")
    await us.receive(message, THEM)
    await rejected(us, message, (Duplicate,))
    # the key exchange's chain is gone after the ratchet step: its message key was used and
    # never kept, so the late replay is indistinguishable from a forgery; either way, no change
    await rejected(us, kex, (Duplicate, AuthenticationFailed))


def with_counter(namespace: Namespace, data: bytes, counter: int) -> bytes:
    """A ratchet message re-encoded with another counter (its MAC no longer fits)."""
    if namespace is Namespace.LEGACY:
        parsed = legacy_wire.parse_whisper(data)
        body = (
            field_bytes(1, b"\x05" + parsed.ratchet_key)
            + field_varint(2, counter)
            + field_varint(3, parsed.previous_counter)
            + field_bytes(4, parsed.ciphertext)
        )
        return b"\x33" + body + parsed.mac
    outer = v2_wire.parse_authenticated(data)
    inner = v2_wire.parse_message(outer.message)
    message = (
        field_varint(1, counter)
        + field_varint(2, inner.previous_counter)
        + field_bytes(3, inner.ratchet_key)
        + field_bytes(4, inner.ciphertext)
    )
    return field_bytes(1, outer.mac) + field_bytes(2, message)


@pytest.mark.parametrize("namespace", NAMESPACES)
@pytest.mark.parametrize("counter", [2000, 2**32 - 1])
async def test_too_many_skipped_message_keys(namespace: Namespace, counter: int) -> None:
    us, peer = await established(namespace)
    message = await peer.encrypt([us.ref], b"n=0")
    forged = with_key_data(message, with_counter(namespace, message.keys[0].data, counter))
    await rejected(us, forged, (TooManySkipped,))
    assert (await us.receive(message, THEM)).plaintext == b"n=0"


@pytest.mark.parametrize("namespace", NAMESPACES)
@pytest.mark.parametrize("which", ["pre_key", "signed_pre_key"])
async def test_unknown_pre_key_ids(namespace: Namespace, which: str) -> None:
    us, peer = await new_pair(namespace)
    kex = await peer.encrypt([us.ref], b"hello", {us.ref: await us.engine.bundle(namespace)})
    data = kex.keys[0].data
    unknown = 2**31 - 7
    forged: bytes
    if namespace is Namespace.LEGACY:
        parsed = legacy_wire.parse_pre_key_whisper(data)
        changed = dataclasses.replace(parsed, **{f"{which}_id": unknown})  # type: ignore[arg-type]
        forged = legacy_wire.encode_pre_key_whisper(changed)
    else:
        parsed_v2 = v2_wire.parse_key_exchange(data)
        changed_v2 = dataclasses.replace(parsed_v2, **{f"{which}_id": unknown})  # type: ignore[arg-type]
        forged = v2_wire.encode_key_exchange(changed_v2)
    await rejected(us, with_key_data(kex, forged), (UnknownPreKey,))
    assert (await us.receive(kex, THEM)).plaintext == b"hello"


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_message_without_session_and_foreign_keys(namespace: Namespace) -> None:
    """A plain message with no session, and an element with no key for us."""
    us, peer = await new_pair(namespace)
    other = await FakeDevice.create("other@example.org", us.directory)
    kex = await peer.encrypt([other.ref], b"x", {other.ref: await other.engine.bundle(namespace)})
    await rejected(us, kex, (ProtocolError,))  # NotForThisDevice: no key with our rid
    await other.receive(kex, THEM)
    await peer.decrypt(await other.send_as_received(namespace, [THEM], b"ack"), "other@example.org")
    plain = await peer.encrypt([other.ref], b"y")
    retargeted = KeyElement(plain.keys[0].bare_jid, us.engine.device_id, plain.keys[0].data)
    await rejected(us, dataclasses.replace(plain, keys=(retargeted,)), (ProtocolError,))


@pytest.mark.parametrize("namespace", NAMESPACES)
@pytest.mark.parametrize(("byte", "mask"), [(0, 0x01), (31, 0x10), (63, 0x80), (63, 0x01)])
async def test_bad_bundle_signature_is_skipped(namespace: Namespace, byte: int, mask: int) -> None:
    """A bundle whose SPK signature does not verify gets no key and no session (0.3 byte 63's
    top bit is the sign bit: flipping it rebuilds the wrong Edwards key, which must fail too)."""
    us, peer = await new_pair(namespace)
    bundle = await peer.bundle()
    signature = bytearray(bundle.signed_pre_key_signature)
    signature[byte] ^= mask
    us.directory.bundles[namespace, THEM, peer.device_id] = dataclasses.replace(
        bundle, signed_pre_key_signature=bytes(signature)
    )
    await assert_skipped(us, namespace, SkipReason.INVALID_BUNDLE)


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_too_few_pre_keys_is_skipped(namespace: Namespace) -> None:
    minimum = 20 if namespace is Namespace.LEGACY else 25
    directory = MemoryDirectory()
    us = await FakeDevice.create(US, directory)
    peer = await Peer.create(namespace, THEM, 4242, pre_keys=minimum - 1)
    directory.publish(THEM, peer.device_id, await peer.bundle())
    await assert_skipped(us, namespace, SkipReason.INVALID_BUNDLE)
    enough = await Peer.create(namespace, THEM, 4243, pre_keys=minimum)
    directory.publish(THEM, enough.device_id, await enough.bundle())
    result = await us.engine.encrypt(namespace, [THEM], b"x", trust_everyone)
    assert enough.ref in result.recipients


async def assert_skipped(us: FakeDevice, namespace: Namespace, reason: SkipReason) -> None:
    before = us.store.digest()
    result = await us.engine.encrypt(namespace, [THEM], b"secret", trust_everyone)
    skipped = {ref.device_id: why for ref, why in result.skipped.items()}
    assert skipped.get(4242) is reason
    assert result.element.key_for(4242) is None
    await us.engine.commit(result.changes)
    assert us.store.digest() == before
