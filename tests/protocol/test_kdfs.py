"""The key derivations the ratchet runs per message give the bytes of their definitions:
`hkdf_sha256` the RFC 5869 test vectors (and the extract-then-expand written out with `hmac`),
`MessageKDF.derive` doubleratchet's own HMAC-per-byte derivation it replaces."""

from __future__ import annotations

import hmac

import pytest
from doubleratchet.recommended import kdf_separate_hmacs

from tui_omemo.protocol.ratchet import MESSAGE_CHAIN_CONSTANT, MessageKDF, hkdf_sha256


def _hkdf_by_definition(ikm: bytes, info: bytes, length: int, salt: bytes) -> bytes:
    """RFC 5869 extract-then-expand, one HMAC at a time."""
    prk = hmac.digest(salt or bytes(32), ikm, "sha256")
    output, block, counter = b"", b"", 1
    while len(output) < length:
        block = hmac.digest(prk, block + info + bytes((counter,)), "sha256")
        output, counter = output + block, counter + 1
    return output[:length]


def test_hkdf_matches_rfc_5869_test_case_1() -> None:
    okm = hkdf_sha256(
        bytes.fromhex("0b" * 22), bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"), 42,
        salt=bytes.fromhex("000102030405060708090a0b0c"),
    )  # fmt: skip
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_hkdf_matches_rfc_5869_test_case_3_zero_salt_empty_info() -> None:
    assert hkdf_sha256(bytes.fromhex("0b" * 22), b"", 42, salt=b"").hex() == (
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
    )


@pytest.mark.parametrize("length", [32, 64, 80, 96])
@pytest.mark.parametrize("salt", [b"\x00" * 32, bytes(range(32)), b""])
def test_hkdf_equals_the_definition_for_the_lengths_omemo_asks(length: int, salt: bytes) -> None:
    ikm, info = bytes(range(100, 164)), b"OMEMO Message Key Material"
    assert hkdf_sha256(ikm, info, length, salt=salt) == _hkdf_by_definition(ikm, info, length, salt)


def test_hkdf_refuses_lengths_out_of_range() -> None:
    for length in (0, 255 * 32 + 1):
        with pytest.raises(ValueError, match="out of range"):
            hkdf_sha256(b"k", b"", length)


async def test_message_kdf_gives_doubleratchets_bytes() -> None:
    """Our one-shot `derive` and doubleratchet's (an awaited HMAC object per data byte)
    agree for the chain constant and other data, and both refuse a length that is not
    32 bytes per data byte."""
    chain_key = bytes(range(32))
    theirs = kdf_separate_hmacs.KDF.derive.__func__  # type: ignore[attr-defined]
    for data in (MESSAGE_CHAIN_CONSTANT, b"\x07", b"\x01\x02\x03"):
        length = 32 * len(data)
        assert await MessageKDF.derive(chain_key, data, length) == await theirs(
            MessageKDF, chain_key, data, length
        )
    with pytest.raises(ValueError):
        await MessageKDF.derive(chain_key, MESSAGE_CHAIN_CONSTANT, 48)
