"""Fuzzing the parsers: whatever a peer sends, parsing returns a value or raises
MalformedStanza — never another exception."""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from tui_omemo.model import Namespace
from tui_omemo.xmpp import translate
from tui_omemo.xmpp.errors import MalformedStanza

NAMES = [
    "encrypted",
    "header",
    "key",
    "keys",
    "iv",
    "payload",
    "list",
    "devices",
    "device",
    "bundle",
    "spk",
    "spks",
    "ik",
    "prekeys",
    "pk",
    "signedPreKeyPublic",
    "signedPreKeySignature",
    "identityKey",
    "preKeyPublic",
    "junk",
]
ATTRIBUTES = [
    "sid",
    "rid",
    "jid",
    "prekey",
    "kex",
    "id",
    "label",
    "labelsig",
    "preKeyId",
    "signedPreKeyId",
]
TEXT = st.one_of(
    st.none(),
    st.sampled_from(["AAAA", "AAAAAAAAAAAAAAAA", "!!", "=", " A A A A ", "", "AQID\nBA=="]),
    st.text(max_size=20),
)
VALUES = st.one_of(
    st.sampled_from(
        [
            "1",
            "0",
            "-1",
            "true",
            "false",
            "2147483647",
            "2147483648",
            "x",
            "",
            " 7 ",
            "1e3",
            "0x10",
            "١",
        ]
    ),
    st.text(max_size=8),
)


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    return "".join(c for c in text if c in "\t\n\r" or (" " <= c <= "\ud7ff"))


@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> ET.Element:
    namespace = draw(st.sampled_from([str(Namespace.LEGACY), str(Namespace.V2)]))
    name = draw(st.sampled_from(NAMES))
    element = ET.Element(f"{{{namespace}}}{name}")
    for attribute in draw(st.lists(st.sampled_from(ATTRIBUTES), max_size=3, unique=True)):
        element.set(attribute, _clean(draw(VALUES)) or "")
    element.text = _clean(draw(TEXT))
    if depth < 2:
        for child in draw(st.lists(trees(depth + 1), max_size=3)):
            element.append(child)
    return element


@settings(max_examples=100, deadline=None)
@given(tree=trees())
def test_parsers_raise_only_malformed_stanza(tree: ET.Element) -> None:
    roundtrip = ET.fromstring(ET.tostring(tree))
    for parse in (
        translate.encrypted_from_xml,
        translate.device_list_from_xml,
        translate.bundle_from_xml,
    ):
        with contextlib.suppress(MalformedStanza):
            parse(roundtrip)
