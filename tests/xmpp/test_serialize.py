"""`messages.serialize`: stream XML for the messages `XmppClient.send_stanza` writes itself
(default namespaces, no prefixes), equal to the element once parsed back, or None for what it
does not cover."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.xmpp.test_translate import legacy_encrypted, v2_encrypted
from tui_omemo.xmpp import messages

AWKWARD = "<b>x</b> & \"double\" 'single' \n\ttabbed ]]> \u202e bidi \U0001f389"


def parsed_back(data: str) -> ET.Element:
    """`data` as a stream would read it: inside a jabber:client default namespace."""
    root = ET.fromstring(f'<stream xmlns="{messages.CLIENT}">{data}</stream>')
    return root[0]


def same(a: ET.Element, b: ET.Element) -> bool:
    return ET.canonicalize(ET.tostring(a)) == ET.canonicalize(ET.tostring(b))


@pytest.mark.parametrize("also", [False, True])
def test_an_encrypted_message_reads_back_as_built(also: bool) -> None:
    element = legacy_encrypted()
    stanza = messages.build_encrypted_message(
        element,
        "bob@localhost",
        body_hint=messages.LEGACY_BODY_HINT,
        also=v2_encrypted() if also else None,
    )
    data = messages.serialize(stanza)
    assert data is not None
    assert data.startswith("<message ")
    assert "ns0:" not in data
    assert same(parsed_back(data), stanza)
    read = messages.read_message(parsed_back(data), "bob@localhost")
    assert (read.also if also else read.encrypted) == element


def test_text_and_attributes_with_markup_characters_survive() -> None:
    stanza = ET.Element(f"{{{messages.CLIENT}}}message", to="bob@localhost", id=AWKWARD)
    ET.SubElement(stanza, f"{{{messages.CLIENT}}}body").text = AWKWARD
    ET.SubElement(stanza, f"{{{messages.SID}}}origin-id", id=AWKWARD)
    data = messages.serialize(stanza)
    assert data is not None
    back = parsed_back(data)
    assert back.get("id") == AWKWARD
    assert back.findtext(f"{{{messages.CLIENT}}}body") == AWKWARD
    origin = back.find(f"{{{messages.SID}}}origin-id")
    assert origin is not None
    assert origin.get("id") == AWKWARD


def test_what_it_does_not_cover_is_left_to_slixmpp() -> None:
    lang = ET.Element(f"{{{messages.CLIENT}}}message")
    ET.SubElement(
        lang, f"{{{messages.CLIENT}}}body", {"{http://www.w3.org/XML/1998/namespace}lang": "en"}
    ).text = "hi"
    tail = ET.Element(f"{{{messages.CLIENT}}}message")
    ET.SubElement(tail, f"{{{messages.CLIENT}}}body").tail = "mixed content"
    bare = ET.Element("message")
    assert [messages.serialize(e) for e in (lang, tail, bare)] == [None, None, None]
