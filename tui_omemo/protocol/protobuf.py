"""A small, strict protobuf (proto2) codec: the only protobuf code of the project.

OMEMO needs very little of protobuf: varints (wire type 0) and length-delimited bytes (wire type
2), in messages whose fields are known. The decoder accepts fields in any order, skips unknown
fields of wire types 0, 1, 2 and 5, lets the last occurrence of a field win (proto2 rules), and
raises `MalformedMessage` for everything else: truncated input, over-long varints, the group wire
types 3/4 and the reserved types 6/7, or a known field sent with the wrong wire type. The encoder
writes fields in the order given (callers give ascending field numbers, as libsignal does).
Receivers MAC the bytes they received, so the encoding order only matters for reproducibility.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from tui_omemo.protocol.errors import MalformedMessage

VARINT = 0
FIXED64 = 1
LENGTH_DELIMITED = 2
FIXED32 = 5

_MAX_VARINT_BYTES = 10
_UINT32_MAX = 2**32 - 1
_UINT64_MAX = 2**64 - 1
_ONE_BYTE = [bytes((value,)) for value in range(128)]


def encode_varint(value: int) -> bytes:
    """The base-128 varint encoding of a non-negative integer below 2^64.

    Raises:
        ValueError: for negative or too large values (a programming error, not peer input).
    """
    if 0 <= value < 128:
        return _ONE_BYTE[value]
    if not 0 <= value <= _UINT64_MAX:
        raise ValueError(f"varint out of range: {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(data: bytes, pos: int) -> tuple[int, int]:
    """Read one varint at `pos`.

    Returns:
        The value and the position after it.

    Raises:
        MalformedMessage: truncated, longer than 10 bytes, or above 2^64 − 1.
    """
    if pos < len(data) and data[pos] < 0x80:  # one byte: tags, lengths and counters mostly
        return data[pos], pos + 1
    value = 0
    for index in range(_MAX_VARINT_BYTES):
        if pos + index >= len(data):
            raise MalformedMessage("truncated varint")
        byte = data[pos + index]
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            if value > _UINT64_MAX:
                raise MalformedMessage("varint above 64 bits")
            return value, pos + index + 1
    raise MalformedMessage("varint longer than 10 bytes")


Field = tuple[int, int | bytes]


def encode(fields: Iterable[Field]) -> bytes:
    """Serialize `(field_number, value)` pairs: ints as varints, bytes as length-delimited."""
    out = bytearray()
    for number, value in fields:
        if isinstance(value, bytes):
            tag, length = number << 3 | LENGTH_DELIMITED, len(value)
            if tag < 128 and length < 128:  # one byte each (OMEMO's keys, ids and counters)
                out.append(tag)
                out.append(length)
            else:
                out += encode_varint(tag)
                out += encode_varint(length)
            out += value
        else:
            tag = number << 3 | VARINT
            if tag < 128 and 0 <= value < 128:
                out.append(tag)
                out.append(value)
            else:
                out += encode_varint(tag)
                out += encode_varint(value)
    return bytes(out)


def _skip(data: bytes, pos: int, wire_type: int) -> int:
    """The position after a field value of `wire_type` starting at `pos`."""
    if wire_type == VARINT:
        return decode_varint(data, pos)[1]
    if wire_type in (FIXED64, FIXED32):
        end = pos + (8 if wire_type == FIXED64 else 4)
    elif wire_type == LENGTH_DELIMITED:
        length, pos = decode_varint(data, pos)
        end = pos + length
    else:
        raise MalformedMessage(f"unsupported wire type {wire_type}")
    if end > len(data):
        raise MalformedMessage("truncated field")
    return end


class Decoded(NamedTuple):
    """The known fields of one decoded message, by field number (last occurrence wins); a
    `NamedTuple`, built for every ratchet message received."""

    fields: dict[int, int | bytes]

    def uint32(self, number: int, *, required: bool = False) -> int:
        """A uint32 field; missing means 0 unless `required`.

        Raises:
            MalformedMessage: missing but required, not a varint, or above 2^32 − 1.
        """
        value = self.fields.get(number)
        if value is None:
            if required:
                raise MalformedMessage(f"missing field {number}")
            return 0
        if not isinstance(value, int) or value > _UINT32_MAX:
            raise MalformedMessage(f"field {number} is not a uint32")
        return value

    def optional_uint32(self, number: int) -> int | None:
        """A uint32 field, or None when it is absent."""
        return None if number not in self.fields else self.uint32(number)

    def bytes_(self, number: int, *, length: int | None = None) -> bytes:
        """A required bytes field, optionally of an exact length.

        Raises:
            MalformedMessage: missing, not length-delimited, or of the wrong length.
        """
        value = self.fields.get(number)
        if not isinstance(value, bytes):
            raise MalformedMessage(f"missing or mistyped field {number}")
        if length is not None and len(value) != length:
            raise MalformedMessage(f"field {number}: {len(value)} bytes, expected {length}")
        return value

    def optional_bytes(self, number: int) -> bytes | None:
        """A bytes field, or None when it is absent."""
        return None if number not in self.fields else self.bytes_(number)


def decode(data: bytes, schema: dict[int, int]) -> Decoded:
    """Parse a message whose known fields are `schema` (field number → wire type).

    Unknown fields are skipped; a known field with another wire type is malformed.

    Raises:
        MalformedMessage: for any malformed input.
    """
    fields: dict[int, int | bytes] = {}
    pos, size = 0, len(data)
    while pos < size:
        tag = data[pos]
        if tag < 0x80:  # one-byte tag (fields 1-15): no call
            pos += 1
        else:
            tag, pos = decode_varint(data, pos)
        number, wire_type = tag >> 3, tag & 0x07
        if number == 0:
            raise MalformedMessage("field number 0")
        expected = schema.get(number)
        if expected is None:
            pos = _skip(data, pos, wire_type)
        elif expected != wire_type:
            raise MalformedMessage(f"field {number} has wire type {wire_type}")
        elif wire_type == VARINT:
            fields[number], pos = decode_varint(data, pos)
        else:
            length, pos = decode_varint(data, pos)
            end = pos + length
            if end > size:
                raise MalformedMessage("truncated field")
            fields[number] = data[pos:end]
            pos = end
    return Decoded(fields)
