"""Fingerprints and trust URIs (OMEMO-WIRE.md §7.1, §7.2)."""

from __future__ import annotations

import base64
import contextlib

import pytest
import xeddsa
from hypothesis import given
from hypothesis import strategies as st

from tui_omemo.model import Namespace
from tui_omemo.protocol.verification import (
    InvalidIdentityKey,
    InvalidTrustUri,
    TrustUri,
    build_trust_uri,
    curve25519_identity_key,
    fingerprint,
    fingerprint_hex,
    fingerprint_hues,
    format_fingerprint,
    hue_angle,
    parse_trust_uri,
)

# §7.1 example: the Ed25519 identity key (its full value recovered from the Curve form given there
# with sign bit 1; the document shows its first and last bytes) and its Curve25519 fingerprint.
ED_KEY = bytes.fromhex("c7377681e3565a3d62a81306301e77b89c003bc21e8a8d6f10072fd23ad665ce")
CURVE_HEX = "067174949b8d8a446d66aea3aaad4558e1bbcd52e3ec95928e7b5d24c9fc1d2e"
SHOWN = "06717494 9b8d8a44 6d66aea3 aaad4558 e1bbcd52 e3ec9592 8e7b5d24 c9fc1d2e"
FP_A = CURVE_HEX
FP_B = "ab" * 32


def test_example_vector_omemo2() -> None:
    """The OMEMO 2 Ed25519 key shows the Curve25519 fingerprint of §7.1."""
    assert fingerprint(ED_KEY, Namespace.V2) == SHOWN
    assert fingerprint_hex(ED_KEY, Namespace.V2) == CURVE_HEX


def test_example_vector_legacy_wire_form() -> None:
    """The 0.3 wire identityKey of §7.1 (base64 starting BQZxdJSbjYpEbWau) shows the same text."""
    wire = b"\x05" + bytes.fromhex(CURVE_HEX)
    assert base64.b64encode(wire).decode().startswith("BQZxdJSbjYpEbWau")
    assert fingerprint(wire, Namespace.LEGACY) == SHOWN


@given(st.binary(min_size=32, max_size=32), st.booleans())
def test_one_key_one_fingerprint_in_both_versions(curve: bytes, sign: bool) -> None:
    """A device using one identity key in both namespaces shows one fingerprint, whatever the sign
    of the Edwards form."""
    ed = xeddsa.curve25519_pub_to_ed25519_pub(curve, sign)
    try:
        from_v2 = fingerprint(ed, Namespace.V2)
    except InvalidIdentityKey:  # a few 32-byte strings are no valid points; nothing to compare
        return
    assert from_v2 == fingerprint(
        b"\x05" + xeddsa.ed25519_pub_to_curve25519_pub(ed), Namespace.LEGACY
    )


@pytest.mark.parametrize(
    ("key", "namespace"),
    [
        (b"\x05" + b"\x01" * 31, Namespace.LEGACY),
        (b"\x06" + b"\x01" * 32, Namespace.LEGACY),
        (b"\x01" * 32, Namespace.LEGACY),
        (b"\x05" + b"\x01" * 32, Namespace.V2),
        (b"", Namespace.V2),
    ],
)
def test_malformed_identity_keys_are_rejected(key: bytes, namespace: Namespace) -> None:
    with pytest.raises(InvalidIdentityKey):
        curve25519_identity_key(key, namespace)


def test_format_fingerprint_checks_its_input() -> None:
    assert format_fingerprint(CURVE_HEX.upper()) == SHOWN
    with pytest.raises(ValueError, match="64 hex"):
        format_fingerprint("abc")


def test_build_uri_form() -> None:
    uri = build_trust_uri("Alice@Example.org", [(17, FP_A), (4, SHOWN.upper())])
    assert uri == f"xmpp:alice@example.org?omemo-sid-17={FP_A};omemo-sid-4={FP_A}"


def test_roundtrip() -> None:
    uri = build_trust_uri("a@b.c", [(1, FP_A), (2**31 - 1, FP_B)])
    assert parse_trust_uri(uri) == TrustUri("a@b.c", {1: FP_A, 2**31 - 1: FP_B})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Conversations: names lowercased, values URL-decoded and lowercased
        (f"xmpp:a@b.c?OMEMO-SID-5={FP_A.upper()}", {5: FP_A}),
        (f"xmpp:a@b.c?omemo-sid-5={FP_A[:10]}%{ord(FP_A[10]):02X}{FP_A[11:]}", {5: FP_A}),
        # the https link form separates with &
        (f"xmpp:a@b.c?omemo-sid-5={FP_A}&omemo-sid-6={FP_B}", {5: FP_A, 6: FP_B}),
        # an XEP-0147 action and other parameters are ignored
        (f"xmpp:a@b.c?message;body=hi;omemo-sid-5={FP_A}", {5: FP_A}),
        (f"  xmpp:a%40b.c?omemo-sid-5={FP_A}\n", {5: FP_A}),
        (f"XMPP:A@B.C?omemo-sid-5={FP_A}", {5: FP_A}),
    ],
)
def test_parse_accepts(text: str, expected: dict[int, str]) -> None:
    parsed = parse_trust_uri(text)
    assert parsed.bare_jid == "a@b.c"
    assert dict(parsed.fingerprints) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (f"https://a@b.c?omemo-sid-5={FP_A}", "not an xmpp"),
        (f"xmpp:a@b.c/res?omemo-sid-5={FP_A}", "bare JID"),
        (f"xmpp:@b.c?omemo-sid-5={FP_A}", "bare JID"),
        (f"xmpp:a@?omemo-sid-5={FP_A}", "bare JID"),
        (f"xmpp:a@x@b.c?omemo-sid-5={FP_A}", "bare JID"),
        (f"xmpp:?omemo-sid-5={FP_A}", "bare JID"),
        (f"xmpp:a b@c?omemo-sid-5={FP_A}", "bare JID"),
        ("xmpp:a@b.c?omemo-sid-5=" + "g" * 64, "64 hex"),
        ("xmpp:a@b.c?omemo-sid-5=" + "a" * 63, "64 hex"),
        ("xmpp:a@b.c?omemo-sid-5=05" + FP_A, "64 hex"),
        ("xmpp:a@b.c?omemo-sid-5", "no fingerprint"),
        ("xmpp:a@b.c", "no omemo-sid"),
        ("xmpp:a@b.c?message;body=x", "no omemo-sid"),
        (f"xmpp:a@b.c?omemo-sid-5={FP_A};omemo-sid-5={FP_B}", "twice"),
        (f"xmpp:a@b.c?omemo-sid-0={FP_A}", "outside"),
        (f"xmpp:a@b.c?omemo-sid-{2**31}={FP_A}", "outside"),
        (f"xmpp:a@b.c?omemo-sid--1={FP_A}", "not a number"),
        (f"xmpp:a@b.c?omemo-sid-x={FP_A}", "not a number"),
        (f"xmpp:a@b.c?omemo-sid-={FP_A}", "not a number"),
    ],
)
def test_parse_rejects(text: str, why: str) -> None:
    with pytest.raises(InvalidTrustUri, match=why):
        parse_trust_uri(text)


@pytest.mark.parametrize(
    ("jid", "entries"),
    [("a@b.c", []), ("a@b.c/r", [(1, FP_A)]), ("a@b.c", [(0, FP_A)]), ("a@b.c", [(1, "x")])],
)
def test_build_rejects(jid: str, entries: list[tuple[int, str]]) -> None:
    with pytest.raises(InvalidTrustUri):
        build_trust_uri(jid, entries)


hex64 = st.binary(min_size=32, max_size=32).map(bytes.hex)
sids = st.integers(1, 2**31 - 1)


@given(st.dictionaries(sids, hex64, min_size=1, max_size=5))
def test_build_parse_roundtrip_property(entries: dict[int, str]) -> None:
    parsed = parse_trust_uri(build_trust_uri("me@example.org", entries.items()))
    assert dict(parsed.fingerprints) == entries
    assert list(parsed.fingerprints) == list(entries)


@given(st.text(max_size=80))
def test_parse_never_fails_with_anything_but_invalid_trust_uri(text: str) -> None:
    with contextlib.suppress(InvalidTrustUri):
        parse_trust_uri(text)


@pytest.mark.parametrize(
    ("text", "angle"),
    [("Romeo", 327.255249), ("juliet@capulet.lit", 209.410400), ("😺", 331.199341)],
)
def test_hue_angle_matches_xep_0392_vectors(text: str, angle: float) -> None:
    assert hue_angle(text) == pytest.approx(angle, abs=1e-6)


def test_one_hue_per_fingerprint_group() -> None:
    hues = fingerprint_hues(SHOWN)
    assert len(hues) == 8
    assert hues[0] == hue_angle("06717494")
    assert all(0 <= hue < 360 for hue in hues)
