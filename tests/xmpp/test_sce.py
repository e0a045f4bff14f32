"""XEP-0420 envelope: what we build parses back, and malformed envelopes are refused clearly."""

from __future__ import annotations

import string
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime

import pytest

from tui_omemo.xmpp.errors import MalformedStanza
from tui_omemo.xmpp.xep_0420 import SCE_NAMESPACE, build_envelope, parse_envelope
from tui_omemo.xmpp.xep_0420.envelope import random_padding

NS = SCE_NAMESPACE


def test_envelope_round_trip_with_affixes() -> None:
    """Body, time, to and from survive; the body is namespaced jabber:client inside <content>."""
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    data = build_envelope(
        "hi <b>there</b> & 🙂", sender="romeo@m.lit", to="room@c.lit", timestamp=when
    )
    root = ET.fromstring(data)
    assert root.find(f"{{{NS}}}content/{{jabber:client}}body") is not None
    assert [child.tag.split("}")[1] for child in root] == ["content", "rpad", "time", "to", "from"]
    envelope = parse_envelope(data)
    assert envelope.body == "hi <b>there</b> & 🙂"
    assert envelope.timestamp == when
    assert envelope.to == "room@c.lit"
    assert envelope.sender == "romeo@m.lit"


def test_rpad_length_varies_between_0_and_200() -> None:
    """Random padding hides the message length: lengths differ and stay within 0–200."""
    lengths = set()
    for _ in range(60):
        rpad = ET.fromstring(build_envelope("x", sender="a@b", to=None)).find(f"{{{NS}}}rpad")
        assert rpad is not None
        lengths.add(len(rpad.text or ""))
    assert len(lengths) > 10
    assert max(lengths) <= 200


def test_rpad_characters_cover_the_base64_alphabet_evenly() -> None:
    """Every padding character is from the base64 alphabet, and all 64 occur about equally
    often (20 000 draws: each expected ~312; the bounds are > 10 standard deviations away)."""
    alphabet = set(string.ascii_letters + string.digits + "+/")
    counts: Counter[str] = Counter()
    while sum(counts.values()) < 20_000:
        counts.update(random_padding())
    assert set(counts) == alphabet
    assert min(counts.values()) > 120
    assert max(counts.values()) < 520


def test_envelope_without_to_for_one_to_one() -> None:
    assert parse_envelope(build_envelope("x", sender="a@b", to=None)).to is None


MALFORMED = {
    "not xml": b"hello",
    "not utf-8": b"\xff\xfe<envelope/>",
    "wrong root": b"<content xmlns='urn:xmpp:sce:1'/>",
    "wrong namespace": b"<envelope xmlns='urn:example'><content/></envelope>",
    "no content": f"<envelope xmlns='{NS}'><rpad/></envelope>".encode(),
    "two contents": f"<envelope xmlns='{NS}'><content/><content/></envelope>".encode(),
    "bad time": f"<envelope xmlns='{NS}'><content/><time stamp='yesterday'/></envelope>".encode(),
    "time without zone": (
        f"<envelope xmlns='{NS}'><content/><time stamp='2026-01-01T00:00:00'/></envelope>"
    ).encode(),
    "from without jid": f"<envelope xmlns='{NS}'><content/><from/></envelope>".encode(),
    "two froms": (
        f"<envelope xmlns='{NS}'><content/><from jid='a@b'/><from jid='c@d'/></envelope>"
    ).encode(),
    "entity expansion": (
        b"<!DOCTYPE e [<!ENTITY a 'aaaa'>]><envelope xmlns='urn:xmpp:sce:1'><content>&a;"
        b"</content></envelope>"
    ),
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_envelope_is_refused(data: bytes) -> None:
    with pytest.raises(MalformedStanza, match="SCE"):
        parse_envelope(data)


def test_hints_inside_content_are_ignored_and_opt_out_is_reported() -> None:
    data = (
        f"<envelope xmlns='{NS}'><content><store xmlns='urn:xmpp:hints'/>"
        "<opt-out xmlns='urn:xmpp:omemo:2'><reason>no thanks</reason></opt-out>"
        "<x xmlns='urn:example'/></content></envelope>"
    ).encode()
    envelope = parse_envelope(data)
    assert envelope.body is None
    assert envelope.opt_out_reason == "no thanks"
    assert envelope.other_content == ("{urn:example}x",)


def _tree_envelope(body: str, sender: str, to: str | None, when: datetime, rpad: str) -> bytes:
    """The envelope built as an ElementTree and serialized by `ET.tostring` (the construction
    `build_envelope` used before its string template)."""
    envelope = ET.Element(f"{{{NS}}}envelope")
    content = ET.SubElement(envelope, f"{{{NS}}}content")
    ET.SubElement(content, "{jabber:client}body").text = body
    ET.SubElement(envelope, f"{{{NS}}}rpad").text = rpad
    ET.SubElement(envelope, f"{{{NS}}}time", stamp=when.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if to is not None:
        ET.SubElement(envelope, f"{{{NS}}}to", jid=to)
    ET.SubElement(envelope, f"{{{NS}}}from", jid=sender)
    return ET.tostring(envelope, encoding="unicode").encode("utf-8")


@pytest.mark.parametrize(
    ("body", "to"),
    [
        ("plain", "room@c.lit"),
        ("", None),
        ("a<b>c & d &amp; &lt; ]]> \"q\" 'a'", 'we&ird"<>@c.lit'),
        ("line\nbreak\r\ttab 🙂 Ünïcödé 中文 \u200b\u2028", "x@y/res\tline\nend\r"),
        ("&&<<>>", None),
    ],
)
def test_envelope_bytes_equal_the_element_tree_serialization(body: str, to: str | None) -> None:
    """The string template writes exactly the bytes `ET.tostring` wrote for the same tree, over
    text that needs escaping (markup characters, quotes, line ends in attributes, emoji and
    other non-ASCII), the empty body (`<body />`) and the missing `<to>`, so the wire format
    peers decrypt is unchanged."""
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    data = build_envelope(body, sender="a&<\"'@b.lit", to=to, timestamp=when)
    rpad = ET.fromstring(data).findtext(f"{{{NS}}}rpad") or ""
    assert data == _tree_envelope(body, "a&<\"'@b.lit", to, when, rpad)


def test_a_file_link_also_travels_as_oob_inside_the_content() -> None:
    """A body that is exactly one aesgcm:// link gets an XEP-0066 `<x><url>` with that link
    inside `<content>` (so only inside the encryption); the body stays the link, and other
    bodies, even ones mentioning a link, get no OOB element."""
    link = "aesgcm://upload.example/s/a.jpg#" + "0a" * 44
    root = ET.fromstring(build_envelope(link, sender="a@b", to="c@d"))
    assert root.findtext(f"{{{NS}}}content/{{jabber:x:oob}}x/{{jabber:x:oob}}url") == link
    assert root.findall(f"{{{NS}}}*/{{jabber:x:oob}}x") == root.findall(
        f"{{{NS}}}content/{{jabber:x:oob}}x"
    )
    envelope = parse_envelope(ET.tostring(root))
    assert envelope.body == link
    assert envelope.other_content == ("{jabber:x:oob}x",)
    for text in ("hello", f"look: {link}"):
        data = build_envelope(text, sender="a@b", to=None)
        assert ET.fromstring(data).find(".//{jabber:x:oob}x") is None
