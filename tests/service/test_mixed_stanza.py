"""The stanza that carries both OMEMO versions (no server): its shape, what our reader takes
from it, and that python-omemo's own parsers accept each of its two elements."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.xmpp.test_translate import legacy_encrypted, v2_encrypted
from tui_omemo.model import Namespace
from tui_omemo.xmpp import messages

oldmemo_etree = pytest.importorskip("oldmemo.etree")
twomemo_etree = pytest.importorskip("twomemo.etree")

OWN = "alice@localhost"


V2_ELEMENT = v2_encrypted()
LEGACY_ELEMENT = legacy_encrypted()


def mixed() -> ET.Element:
    return messages.build_encrypted_message(
        V2_ELEMENT,
        "bob@localhost",
        message_id="m1",
        body_hint=messages.LEGACY_BODY_HINT,
        also=LEGACY_ELEMENT,
    )


def test_one_stanza_carries_both_elements_the_hint_and_one_origin_id() -> None:
    """Both `<encrypted>` elements, an EME hint for each, one fallback body with the OMEMO 2
    fallback marker, one store hint and one origin-id."""
    stanza = mixed()
    for namespace in Namespace:
        assert stanza.find(f"{{{namespace.value}}}encrypted") is not None
    names = {e.get("namespace") for e in stanza.findall(f"{{{messages.EME}}}encryption")}
    assert names == {namespace.value for namespace in Namespace}
    assert len(stanza.findall(f"{{{messages.CLIENT}}}body")) == 1
    assert len(stanza.findall(f"{{{messages.FALLBACK}}}fallback")) == 1
    assert len(stanza.findall(f"{{{messages.SID}}}origin-id")) == 1
    assert len(stanza.findall(f"{{{messages.HINTS}}}store")) == 1


def test_our_reader_takes_the_omemo_2_element() -> None:
    """Every device on an OMEMO 2 list got its key in the OMEMO 2 element, so a client that
    speaks both reads that one (as python-omemo does)."""
    parsed = messages.read_message(ET.fromstring(ET.tostring(mixed())), OWN)
    assert parsed.encrypted is not None
    assert parsed.encrypted.namespace is Namespace.V2
    assert set(parsed.encrypted.keys) == set(V2_ELEMENT.keys)


def test_python_omemo_parses_each_element() -> None:
    """python-omemo's XML schemas accept both elements of the combined stanza as they are."""
    stanza = ET.fromstring(ET.tostring(mixed()))
    v2 = stanza.find(f"{{{Namespace.V2.value}}}encrypted")
    legacy = stanza.find(f"{{{Namespace.LEGACY.value}}}encrypted")
    assert v2 is not None
    assert legacy is not None
    twomemo_etree.MESSAGE_SCHEMA.validate(v2)
    oldmemo_etree.MESSAGE_SCHEMA.validate(legacy)
