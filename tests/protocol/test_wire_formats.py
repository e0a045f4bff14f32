"""Ratchet message framing, bundles and payload crypto of both versions, at the byte level."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
import xeddsa
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes import MemoryDirectory, MemoryStateStore
from tui_omemo.model import Namespace
from tui_omemo.protocol import protobuf
from tui_omemo.protocol.engine import Engine
from tui_omemo.protocol.errors import (
    AuthenticationFailed,
    InvalidBundle,
    MalformedMessage,
    UnsupportedKeyMaterial,
)
from tui_omemo.protocol.legacy import payload as legacy_payload
from tui_omemo.protocol.legacy import wire as legacy_wire
from tui_omemo.protocol.v2 import payload as v2_payload
from tui_omemo.protocol.v2 import wire as v2_wire
from tui_omemo.protocol.versions import version_for

KEY = bytes(range(32))


def test_whisper_message_layout_and_round_trip() -> None:
    body = legacy_wire.encode_whisper_body(KEY, 7, 3, b"c" * 48)
    assert body[:4] == b"\x33\x0a\x21\x05"
    assert body[4:36] == KEY
    assert body[36:40] == b"\x10\x07\x18\x03"
    parsed = legacy_wire.parse_whisper(body + b"M" * 8)
    assert (parsed.ratchet_key, parsed.counter, parsed.previous_counter) == (KEY, 7, 3)
    assert parsed.ciphertext == b"c" * 48
    assert parsed.mac == b"M" * 8
    assert parsed.authenticated == body


def test_whisper_message_fields_in_any_order_and_missing_counters() -> None:
    reordered = b"\x33" + protobuf.encode([(4, b"ct"), (1, b"\x05" + KEY), (99, 1)])
    parsed = legacy_wire.parse_whisper(reordered + b"\x00" * 8)
    assert (parsed.counter, parsed.previous_counter, parsed.ciphertext) == (0, 0, b"ct")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x33" + b"\x00" * 7,
        b"\x32" + b"\x00" * 40,
        b"\x33" + protobuf.encode([(1, KEY), (4, b"ct")]) + b"\x00" * 8,  # no 0x05 prefix
        b"\x33" + protobuf.encode([(1, b"\x05" + KEY)]) + b"\x00" * 8,
    ],  # no ciphertext
)
def test_whisper_message_malformed(data: bytes) -> None:
    with pytest.raises(MalformedMessage):
        legacy_wire.parse_whisper(data)


def test_pre_key_whisper_message_round_trip() -> None:
    message = legacy_wire.PreKeyWhisperMessage(17, KEY, KEY[::-1], b"\x33inner", 1234, 5)
    encoded = legacy_wire.encode_pre_key_whisper(message)
    assert encoded[:3] == b"\x33\x08\x11"
    assert legacy_wire.parse_pre_key_whisper(encoded) == message
    without_optional = dataclasses.replace(message, pre_key_id=None, registration_id=None)
    parsed = legacy_wire.parse_pre_key_whisper(legacy_wire.encode_pre_key_whisper(without_optional))
    assert parsed == without_optional


def test_omemo2_messages_round_trip() -> None:
    message = v2_wire.OMEMOMessage(5, 2, KEY, b"c" * 64)
    encoded = v2_wire.encode_message(message)
    assert encoded[:6] == b"\x08\x05\x10\x02\x1a\x20"
    assert v2_wire.parse_message(encoded) == message
    auth = v2_wire.OMEMOAuthenticatedMessage(b"m" * 16, encoded)
    assert v2_wire.parse_authenticated(v2_wire.encode_authenticated(auth)) == auth
    exchange = v2_wire.OMEMOKeyExchange(1, 2, KEY, KEY[::-1], b"auth")
    assert v2_wire.parse_key_exchange(v2_wire.encode_key_exchange(exchange)) == exchange


@pytest.mark.parametrize(
    ("parse", "data"),
    [
        (v2_wire.parse_message, protobuf.encode([(3, KEY[:31])])),
        (v2_wire.parse_authenticated, protobuf.encode([(1, b"m" * 8), (2, b"x")])),
        (v2_wire.parse_key_exchange, protobuf.encode([(3, KEY), (4, KEY[:5]), (5, b"x")])),
        (v2_wire.parse_key_exchange, protobuf.encode([(3, KEY), (4, KEY)])),
    ],
)
def test_omemo2_malformed(parse, data: bytes) -> None:
    with pytest.raises(MalformedMessage):
        parse(data)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(list(Namespace)), st.binary(max_size=160))
def test_version_parsers_only_raise_malformed(namespace: Namespace, data: bytes) -> None:
    version = version_for(namespace)
    for parse in (version.parse_message, version.parse_key_exchange):
        with contextlib.suppress(MalformedMessage):
            parse(data)


async def _our_bundle(namespace: Namespace):
    engine = await Engine.create("me@example.org", MemoryStateStore(), MemoryDirectory())
    return engine, await engine.bundle(namespace)


@pytest.mark.parametrize("namespace", list(Namespace))
async def test_our_bundle_parses_back(namespace: Namespace) -> None:
    engine, bundle = await _our_bundle(namespace)
    version = version_for(namespace)
    parsed = version.parse_bundle(bundle)
    assert parsed.identity_key_curve == engine.identity_key
    assert parsed.bundle.identity_key == engine.identity_key_ed25519
    assert len(bundle.pre_keys) == 100
    assert sorted(parsed.pre_key_ids.values()) == sorted(bundle.pre_keys)
    if namespace is Namespace.LEGACY:
        assert bundle.identity_key == b"\x05" + engine.identity_key
        sign = engine.identity_key_ed25519[31] >> 7
        assert bundle.signed_pre_key_signature[63] >> 7 == sign
        assert parsed.bundle.signed_pre_key_sig[63] >> 7 == 0
    else:
        assert bundle.identity_key == engine.identity_key_ed25519


@pytest.mark.parametrize("namespace", list(Namespace))
async def test_invalid_bundles(namespace: Namespace) -> None:
    _, bundle = await _our_bundle(namespace)
    version = version_for(namespace)
    signature = bytearray(bundle.signed_pre_key_signature)
    signature[0] ^= 1
    minimum = 20 if namespace is Namespace.LEGACY else 25
    few = dict(list(bundle.pre_keys.items())[: minimum - 1])
    bad = [
        dataclasses.replace(bundle, signed_pre_key_signature=bytes(signature)),
        dataclasses.replace(bundle, signed_pre_key_signature=bundle.signed_pre_key_signature[:63]),
        dataclasses.replace(bundle, identity_key=bundle.identity_key[:-1]),
        dataclasses.replace(bundle, signed_pre_key=bundle.signed_pre_key + b"\x00"),
        dataclasses.replace(bundle, pre_keys=few),
        dataclasses.replace(bundle, pre_keys={**bundle.pre_keys, 10**6: b"\x05\x00"}),
        dataclasses.replace(bundle, signed_pre_key_id=-1),
    ]
    if namespace is Namespace.LEGACY:
        bad.append(dataclasses.replace(bundle, identity_key=b"\x06" + bundle.identity_key[1:]))
        flipped = bytearray(bundle.signed_pre_key_signature)
        flipped[63] ^= 0x80  # wrong sign bit: the rebuilt Ed25519 key does not verify
        bad.append(dataclasses.replace(bundle, signed_pre_key_signature=bytes(flipped)))
    for candidate in bad:
        with pytest.raises(InvalidBundle):
            version.parse_bundle(candidate)
    version.parse_bundle(
        dataclasses.replace(bundle, pre_keys=dict(list(bundle.pre_keys.items())[:minimum]))
    )


def test_legacy_payload() -> None:
    key_material, iv, ciphertext = legacy_payload.encrypt(b"hello")
    assert (len(key_material), len(iv), len(ciphertext)) == (32, 12, 5)
    assert legacy_payload.decrypt(key_material, iv, ciphertext) == b"hello"
    tampered = key_material[:-1] + bytes([key_material[-1] ^ 1])
    with pytest.raises(AuthenticationFailed):
        legacy_payload.decrypt(tampered, iv, ciphertext)
    with pytest.raises(UnsupportedKeyMaterial):  # old format: tag at the end of the payload
        legacy_payload.decrypt(key_material[:16], iv, ciphertext + key_material[16:])
    with pytest.raises(MalformedMessage):
        legacy_payload.decrypt(key_material, iv[:8], ciphertext)
    with pytest.raises(MalformedMessage):
        legacy_payload.decrypt(key_material + b"x", iv, ciphertext)


def test_legacy_payload_accepts_16_byte_iv() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key, iv = bytes(16), bytes(range(16))
    sealed = AESGCM(key).encrypt(iv, b"old client", None)
    assert legacy_payload.decrypt(key + sealed[-16:], iv, sealed[:-16]) == b"old client"


def test_v2_payload() -> None:
    key_material, ciphertext = v2_payload.encrypt(b"<envelope/>")
    assert len(key_material) == 48
    assert len(ciphertext) % 16 == 0
    assert v2_payload.decrypt(key_material, ciphertext) == b"<envelope/>"
    with pytest.raises(AuthenticationFailed):
        v2_payload.decrypt(key_material, ciphertext[:-1] + bytes([ciphertext[-1] ^ 1]))
    with pytest.raises(MalformedMessage):
        v2_payload.decrypt(key_material[:32], ciphertext)
    assert v2_payload.empty_key_material() == bytes(32)


def test_curve_identity_key_is_what_fingerprints_use() -> None:
    seed = bytes(range(32))
    ed = xeddsa.priv_to_ed25519_pub(xeddsa.seed_to_priv(seed))
    curve = xeddsa.priv_to_curve25519_pub(xeddsa.seed_to_priv(seed))
    assert version_for(Namespace.V2).curve_identity_key(ed) == curve
    assert version_for(Namespace.LEGACY).curve_identity_key(b"\x05" + curve) == curve
