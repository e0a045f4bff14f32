"""The hand-rolled protobuf codec: round trips, proto2 leniency, strictness on malformed input."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui_omemo.protocol import protobuf
from tui_omemo.protocol.errors import MalformedMessage

SCHEMA = {1: protobuf.VARINT, 2: protobuf.LENGTH_DELIMITED, 3: protobuf.VARINT}


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b"\x00"),
        (1, b"\x01"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (300, b"\xac\x02"),
        (2**32 - 1, b"\xff\xff\xff\xff\x0f"),
        (2**64 - 1, b"\xff" * 9 + b"\x01"),
    ],
)
def test_varint_known_encodings(value: int, encoded: bytes) -> None:
    assert protobuf.encode_varint(value) == encoded
    assert protobuf.decode_varint(encoded, 0) == (value, len(encoded))


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_varint_round_trip(value: int) -> None:
    encoded = protobuf.encode_varint(value)
    assert protobuf.decode_varint(encoded + b"\x55", 0) == (value, len(encoded))


@given(
    st.integers(min_value=0, max_value=2**32 - 1),
    st.binary(max_size=300),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_message_round_trip(number: int, data: bytes, other: int) -> None:
    decoded = protobuf.decode(protobuf.encode([(1, number), (2, data), (3, other)]), SCHEMA)
    assert decoded.uint32(1) == number
    assert decoded.bytes_(2) == data
    assert decoded.uint32(3) == other


def test_any_field_order_unknown_fields_and_defaults() -> None:
    unknown = (
        protobuf.encode([(9, 5), (10, b"skip me")])
        + bytes([11 << 3 | protobuf.FIXED64])
        + b"\x00" * 8
        + bytes([12 << 3 | protobuf.FIXED32])
        + b"\x00" * 4
    )
    data = unknown + protobuf.encode([(2, b"abc")])
    decoded = protobuf.decode(data, SCHEMA)
    assert decoded.bytes_(2) == b"abc"
    assert decoded.uint32(1) == 0  # missing varints read as 0
    assert decoded.optional_uint32(3) is None
    assert set(decoded.fields) == {2}


def test_last_occurrence_wins() -> None:
    decoded = protobuf.decode(protobuf.encode([(1, 1), (1, 2)]), SCHEMA)
    assert decoded.uint32(1) == 2


@pytest.mark.parametrize(
    "data",
    [
        b"\x08",  # tag without value
        b"\x08\x80",  # truncated varint
        b"\x08" + b"\xff" * 10 + b"\x01",  # varint longer than 10 bytes
        b"\x08" + b"\xff" * 9 + b"\x7f",  # varint above 2^64 − 1
        b"\x12\x05abc",  # length beyond the end
        b"\x12",  # length missing
        b"\x1b",  # wire type 3 (start group)
        b"\x1c",  # wire type 4 (end group)
        b"\x1e",  # wire type 6
        b"\x1f",  # wire type 7
        b"\x00\x00",  # field number 0
        b"\x0a\x00",  # known varint field sent length-delimited
        b"\x10\x01",  # known bytes field sent as a varint
        b"\x59\x00\x00",  # unknown fixed64, truncated
        b"\x5d\x00",  # unknown fixed32, truncated
    ],
)
def test_malformed_input_is_rejected(data: bytes) -> None:
    with pytest.raises(MalformedMessage):
        protobuf.decode(data, SCHEMA)


def test_uint32_overflow_and_missing_required() -> None:
    decoded = protobuf.decode(protobuf.encode([(1, 2**32)]), SCHEMA)
    with pytest.raises(MalformedMessage):
        decoded.uint32(1)
    with pytest.raises(MalformedMessage):
        decoded.bytes_(2)
    with pytest.raises(MalformedMessage):
        decoded.uint32(3, required=True)
    with pytest.raises(MalformedMessage):
        protobuf.decode(protobuf.encode([(2, b"abc")]), SCHEMA).bytes_(2, length=4)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_parse_or_raise_malformed(data: bytes) -> None:
    with contextlib.suppress(MalformedMessage):
        protobuf.decode(data, SCHEMA)
