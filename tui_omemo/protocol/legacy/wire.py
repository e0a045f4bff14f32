"""OMEMO 0.3 ratchet messages on the wire: WhisperMessage and PreKeyWhisperMessage.

Both start with the version byte 0x33 (current 3, minimum 3). A WhisperMessage is
`0x33 ‖ protobuf ‖ mac(8)`; its MAC covers `sender_IK33 ‖ receiver_IK33 ‖ 0x33 ‖ protobuf`.
A PreKeyWhisperMessage is `0x33 ‖ protobuf` whose field 4 holds a whole WhisperMessage. Public
keys carry the 0x05 type prefix (33 bytes) and are returned without it (32 bytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from tui_omemo.protocol import protobuf
from tui_omemo.protocol.errors import MalformedMessage

VERSION_BYTE = 0x33
MAC_SIZE = 8
KEY_TYPE = b"\x05"

_WHISPER = {
    1: protobuf.LENGTH_DELIMITED,
    2: protobuf.VARINT,
    3: protobuf.VARINT,
    4: protobuf.LENGTH_DELIMITED,
}
_PRE_KEY_WHISPER = {
    1: protobuf.VARINT,
    2: protobuf.LENGTH_DELIMITED,
    3: protobuf.LENGTH_DELIMITED,
    4: protobuf.LENGTH_DELIMITED,
    5: protobuf.VARINT,
    6: protobuf.VARINT,
}


def prefixed(key: bytes) -> bytes:
    """`0x05 ‖ key`."""
    return KEY_TYPE + key


def unprefixed(key: bytes) -> bytes:
    """Strip the 0x05 of a 33-byte key.

    Raises:
        MalformedMessage: not 33 bytes or another type byte.
    """
    if len(key) != 33 or key[:1] != KEY_TYPE:
        raise MalformedMessage("expected a 33-byte 0x05-prefixed key")
    return key[1:]


class WhisperMessage(NamedTuple):
    """A parsed WhisperMessage; `authenticated` is what the MAC covers after the AD."""

    ratchet_key: bytes
    counter: int
    previous_counter: int
    ciphertext: bytes
    authenticated: bytes
    mac: bytes


def encode_whisper_body(
    ratchet_key: bytes, counter: int, previous: int, ciphertext: bytes
) -> bytes:
    """`0x33 ‖ protobuf` of a WhisperMessage (the MAC is appended by the caller)."""
    body = protobuf.encode(
        [(1, prefixed(ratchet_key)), (2, counter), (3, previous), (4, ciphertext)]
    )
    return bytes([VERSION_BYTE]) + body


def parse_whisper(data: bytes) -> WhisperMessage:
    """Parse `0x33 ‖ protobuf ‖ mac8`.

    Raises:
        MalformedMessage: too short, wrong version, bad protobuf or key.
    """
    if len(data) < 1 + MAC_SIZE or data[0] != VERSION_BYTE:
        raise MalformedMessage("not a version 3 WhisperMessage")
    authenticated, mac = data[:-MAC_SIZE], data[-MAC_SIZE:]
    fields = protobuf.decode(authenticated[1:], _WHISPER)
    return WhisperMessage(
        ratchet_key=unprefixed(fields.bytes_(1)),
        counter=fields.uint32(2),
        previous_counter=fields.uint32(3),
        ciphertext=fields.bytes_(4),
        authenticated=authenticated,
        mac=mac,
    )


@dataclass(frozen=True, slots=True)
class PreKeyWhisperMessage:
    """A parsed PreKeyWhisperMessage; keys without their 0x05 prefix."""

    pre_key_id: int | None
    base_key: bytes
    identity_key: bytes
    message: bytes
    registration_id: int | None
    signed_pre_key_id: int


def encode_pre_key_whisper(message: PreKeyWhisperMessage) -> bytes:
    """`0x33 ‖ protobuf` of a PreKeyWhisperMessage (fields 1–6 in order)."""
    fields: list[protobuf.Field] = []
    if message.pre_key_id is not None:
        fields.append((1, message.pre_key_id))
    fields += [
        (2, prefixed(message.base_key)),
        (3, prefixed(message.identity_key)),
        (4, message.message),
    ]
    if message.registration_id is not None:
        fields.append((5, message.registration_id))
    fields.append((6, message.signed_pre_key_id))
    return bytes([VERSION_BYTE]) + protobuf.encode(fields)


def parse_pre_key_whisper(data: bytes) -> PreKeyWhisperMessage:
    """Parse a PreKeyWhisperMessage; fields 2, 3 and 4 are required, a missing id reads as 0.

    Raises:
        MalformedMessage: wrong version, bad protobuf, missing fields, bad keys.
    """
    if not data or data[0] != VERSION_BYTE:
        raise MalformedMessage("not a version 3 PreKeyWhisperMessage")
    fields = protobuf.decode(data[1:], _PRE_KEY_WHISPER)
    return PreKeyWhisperMessage(
        pre_key_id=fields.optional_uint32(1),
        base_key=unprefixed(fields.bytes_(2)),
        identity_key=unprefixed(fields.bytes_(3)),
        message=fields.bytes_(4),
        registration_id=fields.optional_uint32(5),
        signed_pre_key_id=fields.uint32(6),
    )
