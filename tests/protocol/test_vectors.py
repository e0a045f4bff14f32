"""Structural vectors (OMEMO-WIRE.md §9.2): real-client and hand-built bytes through our parsers.

No published OMEMO known-answer vectors exist, so these check the *structure*: a `<key>` captured
from Gajim, a PreKeyWhisperMessage laid out as Conversations sends it, and an OMEMO 2 key
exchange laid out byte by byte as §4.4 describes. Each is also read by python-omemo's generated
protobuf classes, so our parser and an independent one agree on the same bytes.
"""

from __future__ import annotations

import base64

import pytest
from oldmemo import oldmemo_pb2
from twomemo import twomemo_pb2

from tui_omemo.protocol.errors import MalformedMessage
from tui_omemo.protocol.legacy import wire as legacy_wire
from tui_omemo.protocol.v2 import wire as v2_wire

GAJIM_KEY = base64.b64decode(
    "MwohBcJzhALU5ZiBSn8RqMR6SJNe2TB3i9IGypFm/yhmZztlEAAYACIwScgGuN2u1xeY19JZA3DLoLWlyAj8LyTMRk1u"
    "O6IEcUkMoCmpR2H6e83SK62b0dj0Rj1u/AZoWNY="
)


def varint(value: int) -> bytes:
    """Base-128 varint, written here independently of the production codec."""
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def field_varint(number: int, value: int) -> bytes:
    return bytes([number << 3]) + varint(value)


def field_bytes(number: int, value: bytes) -> bytes:
    return bytes([number << 3 | 2]) + varint(len(value)) + value


def test_gajim_whisper_message() -> None:
    """0x33 | f1 = 33 B (05…) | f2 = 0 | f3 = 0 | f4 = 48 B | mac 8 B, 98 bytes in all."""
    assert len(GAJIM_KEY) == 98
    parsed = legacy_wire.parse_whisper(GAJIM_KEY)
    assert GAJIM_KEY[3] == 0x05
    assert parsed.ratchet_key == GAJIM_KEY[4:36]
    assert (parsed.counter, parsed.previous_counter) == (0, 0)
    assert len(parsed.ciphertext) == 48
    assert parsed.mac == GAJIM_KEY[-8:]
    assert parsed.authenticated == GAJIM_KEY[:-8]
    independent = oldmemo_pb2.OMEMOMessage.FromString(GAJIM_KEY[1:-8])
    assert independent.ciphertext == parsed.ciphertext
    assert independent.dh_pub == b"\x05" + parsed.ratchet_key


def conversations_pre_key_message() -> tuple[bytes, bytes, bytes, bytes]:
    """A PreKeyWhisperMessage with Conversations' layout: fields 1…6, field 5 = its own sid."""
    base_key, identity_key = bytes(range(1, 33)), bytes(range(101, 133))
    inner = (
        b"\x33"
        + field_bytes(1, b"\x05" + bytes(range(200, 232)))
        + field_varint(2, 2)
        + field_varint(3, 0)
        + field_bytes(4, bytes(48))
        + bytes(8)
    )
    assert len(inner) == 98
    data = (
        b"\x33"
        + field_varint(1, 74)
        + field_bytes(2, b"\x05" + base_key)
        + field_bytes(3, b"\x05" + identity_key)
        + field_bytes(4, inner)
        + field_varint(5, 252549526)
        + field_varint(6, 1)
    )
    return data, base_key, identity_key, inner


def test_conversations_pre_key_whisper_message() -> None:
    data, base_key, identity_key, inner = conversations_pre_key_message()
    assert data.startswith(b"\x33\x08\x4a\x12\x21\x05")  # 'MwhKEiEF' in base64
    assert base64.b64encode(data).startswith(b"MwhKEiEF")
    parsed = legacy_wire.parse_pre_key_whisper(data)
    assert parsed.pre_key_id == 74
    assert parsed.base_key == base_key
    assert parsed.identity_key == identity_key
    assert parsed.message == inner
    assert parsed.registration_id == 252549526
    assert parsed.signed_pre_key_id == 1
    assert legacy_wire.parse_whisper(parsed.message).counter == 2
    independent = oldmemo_pb2.OMEMOKeyExchange.FromString(data[1:])
    assert (independent.pk_id, independent.spk_id, independent.message) == (74, 1, inner)


def test_pre_key_message_fields_in_any_order_and_unknown_fields() -> None:
    """libsignal-style parsers accept any field order and skip unknown fields (pitfall 15)."""
    _, base_key, identity_key, inner = conversations_pre_key_message()
    shuffled = (
        b"\x33"
        + field_varint(6, 7)
        + field_bytes(4, inner)
        + field_bytes(15, b"future")
        + field_bytes(3, b"\x05" + identity_key)
        + field_bytes(2, b"\x05" + base_key)
    )
    parsed = legacy_wire.parse_pre_key_whisper(shuffled)
    assert (parsed.signed_pre_key_id, parsed.pre_key_id, parsed.registration_id) == (7, None, None)
    assert parsed.message == inner


@pytest.mark.parametrize("version", [0x32, 0x34, 0x23, 0x00])
def test_legacy_wrong_version_byte(version: int) -> None:
    data, *_ = conversations_pre_key_message()
    with pytest.raises(MalformedMessage):
        legacy_wire.parse_pre_key_whisper(bytes([version]) + data[1:])
    with pytest.raises(MalformedMessage):
        legacy_wire.parse_whisper(bytes([version]) + GAJIM_KEY[1:])


def test_omemo2_key_exchange_layout() -> None:
    """kex = 08 pk 10 spk 1A 20 <ik> 22 20 <ek> 2A len <auth>; auth = 0A 10 <mac16> 12 len <msg>;
    msg = 08 n 10 pn 1A 20 <dh_pub> 22 len <ct> (§4.4)."""
    ik, ek, dh, mac = bytes(range(32)), bytes(range(32, 64)), bytes(range(64, 96)), bytes(16)
    message = b"\x08\x00\x10\x00\x1a\x20" + dh + b"\x22\x40" + bytes(64)
    auth = b"\x0a\x10" + mac + b"\x12" + bytes([len(message)]) + message
    kex = b"\x08\x05\x10\x01\x1a\x20" + ik + b"\x22\x20" + ek + b"\x2a" + bytes([len(auth)]) + auth
    assert (len(auth), len(kex)) == (124, 198)  # the sizes §4.3 reports for a 48-byte key
    parsed = v2_wire.parse_key_exchange(kex)
    assert (parsed.pre_key_id, parsed.signed_pre_key_id) == (5, 1)
    assert (parsed.identity_key, parsed.ephemeral_key, parsed.message) == (ik, ek, auth)
    outer = v2_wire.parse_authenticated(parsed.message)
    assert (outer.mac, outer.message) == (mac, message)
    inner = v2_wire.parse_message(outer.message)
    assert (inner.counter, inner.previous_counter, inner.ratchet_key) == (0, 0, dh)
    assert len(inner.ciphertext) == 64
    independent = twomemo_pb2.OMEMOKeyExchange.FromString(kex)
    assert independent.message.SerializeToString() == auth
    assert v2_wire.encode_key_exchange(parsed) == kex
