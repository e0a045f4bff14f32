"""Message stanza helpers: outgoing shape per namespace, incoming extraction, carbon rules."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from tests.xmpp.test_translate import legacy_encrypted, v2_encrypted
from tui_omemo.model import Namespace
from tui_omemo.protocol.elements import EncryptedElement
from tui_omemo.xmpp import messages
from tui_omemo.xmpp.errors import MalformedStanza

OWN = "alice@localhost"


def test_outgoing_legacy_message_has_eme_hint_body_store_and_origin_id() -> None:
    element = legacy_encrypted()
    stanza = messages.build_encrypted_message(
        element, "bob@localhost", message_id="m1", body_hint=messages.LEGACY_BODY_HINT
    )
    eme = stanza.find(f"{{{messages.EME}}}encryption")
    assert eme is not None
    assert (eme.get("name"), eme.get("namespace")) == ("OMEMO", Namespace.LEGACY)
    assert stanza.find(f"{{{messages.CLIENT}}}body") is not None
    assert stanza.find(f"{{{messages.HINTS}}}store") is not None
    origin = stanza.find(f"{{{messages.SID}}}origin-id")
    assert origin is not None
    assert origin.get("id") == "m1" == stanza.get("id")
    parsed = messages.read_message(ET.fromstring(ET.tostring(stanza)), OWN)
    assert parsed.encrypted == element
    assert parsed.origin_id == "m1"


def test_outgoing_v2_message_carries_the_fallback_body_and_its_marker() -> None:
    """OMEMO 2 gets the fallback body too (slixmpp raises `message` only for a stanza with a
    body), marked as a fallback for OMEMO 2 by XEP-0428, next to its EME hint."""
    stanza = messages.build_encrypted_message(
        v2_encrypted(), "bob@localhost", body_hint=messages.LEGACY_BODY_HINT
    )
    body = stanza.find(f"{{{messages.CLIENT}}}body")
    assert body is not None
    assert body.text == messages.LEGACY_BODY_HINT
    fallback = stanza.findall(f"{{{messages.FALLBACK}}}fallback")
    assert [element.get("for") for element in fallback] == ["urn:xmpp:omemo:2"]
    eme = stanza.find(f"{{{messages.EME}}}encryption")
    assert eme is not None
    assert eme.get("name") == "OMEMO 2"
    assert stanza.get("id")
    serialized = messages.serialize(stanza)
    assert serialized is not None
    assert '<fallback xmlns="urn:xmpp:fallback:0" for="urn:xmpp:omemo:2" />' in serialized


@pytest.mark.parametrize("element", [legacy_encrypted(None), v2_encrypted(None)], ids=["0.3", "2"])
def test_empty_message_carries_no_fallback_body(element: EncryptedElement) -> None:
    """A key-transport / heartbeat message has nothing to read: no body, no marker."""
    stanza = messages.build_encrypted_message(
        element, "bob@localhost", body_hint=messages.LEGACY_BODY_HINT
    )
    assert stanza.find(f"{{{messages.CLIENT}}}body") is None
    assert stanza.find(f"{{{messages.FALLBACK}}}fallback") is None
    assert stanza.find(f"{{{messages.EME}}}encryption") is not None


def test_no_fallback_body_without_a_hint() -> None:
    """`add_body_hint` off: neither the body nor the marker."""
    stanza = messages.build_encrypted_message(v2_encrypted(), "bob@localhost")
    assert stanza.find(f"{{{messages.CLIENT}}}body") is None
    assert stanza.find(f"{{{messages.FALLBACK}}}fallback") is None


def _incoming(extra: str, *, sender: str = "bob@localhost/phone", kind: str = "chat") -> str:
    return (
        f"<message xmlns='jabber:client' from='{sender}' to='{OWN}/tui' type='{kind}' id='x1'>"
        f"{extra}</message>"
    )


def test_incoming_ids_and_delay() -> None:
    """stanza-id is believed only when stamped by our own server; delay becomes a UTC time."""
    xml = _incoming(
        "<stanza-id xmlns='urn:xmpp:sid:0' by='evil@localhost' id='fake'/>"
        f"<stanza-id xmlns='urn:xmpp:sid:0' by='{OWN}' id='real'/>"
        "<origin-id xmlns='urn:xmpp:sid:0' id='o1'/>"
        "<delay xmlns='urn:xmpp:delay' stamp='2026-03-04T05:06:07Z'/><body>plain</body>"
    )
    parsed = messages.read_message(ET.fromstring(xml), OWN)
    assert parsed.stanza_id == "real"
    assert parsed.origin_id == "o1"
    assert parsed.timestamp == datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert parsed.encrypted is None
    assert parsed.body == "plain"
    assert parsed.sender_bare_jid == "bob@localhost"


def test_groupchat_stanza_id_must_come_from_the_room() -> None:
    xml = _incoming(
        f"<stanza-id xmlns='urn:xmpp:sid:0' by='{OWN}' id='spoof'/>"
        "<stanza-id xmlns='urn:xmpp:sid:0' by='room@conference.localhost' id='room-id'/>",
        sender="room@conference.localhost/bob",
        kind="groupchat",
    )
    assert messages.read_message(ET.fromstring(xml), OWN).stanza_id == "room-id"


def test_incoming_malformed_encrypted_raises() -> None:
    xml = _incoming(f"<encrypted xmlns='{Namespace.V2}'><payload>AAAA</payload></encrypted>")
    with pytest.raises(MalformedStanza):
        messages.read_message(ET.fromstring(xml), OWN)


def _carbon(wrapper_from: str, direction: str = "received") -> ET.Element:
    return ET.fromstring(
        f"<message xmlns='jabber:client' from='{wrapper_from}' to='{OWN}/tui'>"
        f"<{direction} xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>"
        f"{_incoming('<body>hi</body>')}</forwarded></{direction}></message>"
    )


@pytest.mark.parametrize("direction", ["received", "sent"])
def test_carbon_from_own_bare_jid_is_unwrapped(direction: str) -> None:
    unwrapped = messages.unwrap_carbon(_carbon(OWN, direction), OWN)
    assert unwrapped is not None
    inner, found = unwrapped
    assert found == direction
    assert inner.get("id") == "x1"


@pytest.mark.parametrize(
    "wrapper_from", ["mallory@localhost", f"{OWN}/other", "localhost", "", "ALICE@evil"]
)
def test_spoofed_carbon_is_rejected(wrapper_from: str) -> None:
    """Invariant 6: a carbon whose wrapper is not from our own bare JID is refused."""
    with pytest.raises(messages.ForgedCarbon):
        messages.unwrap_carbon(_carbon(wrapper_from), OWN)


def test_plain_message_is_not_a_carbon() -> None:
    assert messages.unwrap_carbon(ET.fromstring(_incoming("<body>x</body>")), OWN) is None
