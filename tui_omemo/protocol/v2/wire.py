"""OMEMO 2 ratchet messages on the wire: OMEMOMessage, OMEMOAuthenticatedMessage, OMEMOKeyExchange.

No version byte and no key prefixes: keys are raw 32 bytes (the identity key in Ed25519 form).
The MAC (16 bytes) lives inside OMEMOAuthenticatedMessage and covers `AD64 ‖ OMEMOMessage bytes`
exactly as received.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from tui_omemo.protocol import protobuf

MAC_SIZE = 16
KEY_SIZE = 32

_MESSAGE = {
    1: protobuf.VARINT,
    2: protobuf.VARINT,
    3: protobuf.LENGTH_DELIMITED,
    4: protobuf.LENGTH_DELIMITED,
}
_AUTHENTICATED = {1: protobuf.LENGTH_DELIMITED, 2: protobuf.LENGTH_DELIMITED}
_KEY_EXCHANGE = {
    1: protobuf.VARINT,
    2: protobuf.VARINT,
    3: protobuf.LENGTH_DELIMITED,
    4: protobuf.LENGTH_DELIMITED,
    5: protobuf.LENGTH_DELIMITED,
}


class OMEMOMessage(NamedTuple):
    """A parsed OMEMOMessage."""

    counter: int
    previous_counter: int
    ratchet_key: bytes
    ciphertext: bytes


class OMEMOAuthenticatedMessage(NamedTuple):
    """A parsed OMEMOAuthenticatedMessage; `message` is the OMEMOMessage bytes as received."""

    mac: bytes
    message: bytes


@dataclass(frozen=True, slots=True)
class OMEMOKeyExchange:
    """A parsed OMEMOKeyExchange; `message` is the OMEMOAuthenticatedMessage bytes."""

    pre_key_id: int
    signed_pre_key_id: int
    identity_key: bytes
    ephemeral_key: bytes
    message: bytes


def encode_message(message: OMEMOMessage) -> bytes:
    """Serialize an OMEMOMessage (fields 1–4 in order)."""
    return protobuf.encode(
        [
            (1, message.counter),
            (2, message.previous_counter),
            (3, message.ratchet_key),
            (4, message.ciphertext),
        ]
    )


def parse_message(data: bytes) -> OMEMOMessage:
    """Parse an OMEMOMessage; missing counters are 0.

    Raises:
        MalformedMessage: bad protobuf or a ratchet key that is not 32 bytes.
    """
    fields = protobuf.decode(data, _MESSAGE)
    return OMEMOMessage(
        counter=fields.uint32(1),
        previous_counter=fields.uint32(2),
        ratchet_key=fields.bytes_(3, length=KEY_SIZE),
        ciphertext=fields.optional_bytes(4) or b"",
    )


def encode_authenticated(message: OMEMOAuthenticatedMessage) -> bytes:
    """Serialize an OMEMOAuthenticatedMessage."""
    return protobuf.encode([(1, message.mac), (2, message.message)])


def parse_authenticated(data: bytes) -> OMEMOAuthenticatedMessage:
    """Parse an OMEMOAuthenticatedMessage.

    Raises:
        MalformedMessage: bad protobuf or a MAC that is not 16 bytes.
    """
    fields = protobuf.decode(data, _AUTHENTICATED)
    return OMEMOAuthenticatedMessage(
        mac=fields.bytes_(1, length=MAC_SIZE), message=fields.bytes_(2)
    )


def encode_key_exchange(exchange: OMEMOKeyExchange) -> bytes:
    """Serialize an OMEMOKeyExchange (fields 1–5 in order)."""
    return protobuf.encode(
        [
            (1, exchange.pre_key_id),
            (2, exchange.signed_pre_key_id),
            (3, exchange.identity_key),
            (4, exchange.ephemeral_key),
            (5, exchange.message),
        ]
    )


def parse_key_exchange(data: bytes) -> OMEMOKeyExchange:
    """Parse an OMEMOKeyExchange.

    Missing ids read as 0 (proto2 default), which no key of ours has.

    Raises:
        MalformedMessage: bad protobuf, missing keys or message, keys that are not 32 bytes.
    """
    fields = protobuf.decode(data, _KEY_EXCHANGE)
    return OMEMOKeyExchange(
        pre_key_id=fields.uint32(1),
        signed_pre_key_id=fields.uint32(2),
        identity_key=fields.bytes_(3, length=KEY_SIZE),
        ephemeral_key=fields.bytes_(4, length=KEY_SIZE),
        message=fields.bytes_(5),
    )
