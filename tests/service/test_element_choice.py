"""A stanza carrying both an OMEMO 2 and a 0.3 `<encrypted>`: the reader keeps both, and the
session decrypts the one that holds a key for our device (OMEMO 2 when both do), so a sender
that saw us only on the 0.3 list does not make us fail with "not for this device"."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

from tests.xmpp.test_translate import legacy_encrypted, v2_encrypted
from tui_omemo.model import Arrival, Namespace
from tui_omemo.protocol.elements import EncryptedElement, KeyElement
from tui_omemo.service.ports import Inbound
from tui_omemo.service.session import for_device
from tui_omemo.xmpp import messages

OWN = "alice@localhost"
ONLY_IN_LEGACY = 12321 + 1  # gets a key only in the 0.3 element below
IN_BOTH = 31415


def both_versions() -> ET.Element:
    """A received stanza with an OMEMO 2 element (keys 31415, 12321, 4223) and a 0.3 element
    (keys 31415 and ONLY_IN_LEGACY)."""
    legacy = legacy_encrypted()
    legacy = dataclasses.replace(
        legacy, keys=(legacy.keys[0], KeyElement(None, ONLY_IN_LEGACY, b"legacy-only", True))
    )
    stanza = messages.build_encrypted_message(v2_encrypted(), OWN, message_id="m1", also=legacy)
    stanza.set("from", "bob@localhost/phone")
    return ET.fromstring(ET.tostring(stanza))


def inbound_of(stanza: ET.Element) -> Inbound:
    parsed = messages.read_message(stanza, OWN)
    return Inbound(
        Arrival.LIVE,
        parsed.sender,
        parsed.recipient,
        encrypted=parsed.encrypted,
        also=parsed.also,
    )


def chosen(inbound: Inbound, device_id: int) -> EncryptedElement:
    result = for_device(inbound, device_id)
    assert result.also is None
    assert result.encrypted is not None
    return result.encrypted


def test_reader_keeps_both_elements_omemo2_first() -> None:
    parsed = messages.read_message(both_versions(), OWN)
    assert parsed.encrypted is not None
    assert parsed.also is not None
    assert (parsed.encrypted.namespace, parsed.also.namespace) == (Namespace.V2, Namespace.LEGACY)


def test_key_only_in_legacy_element_picks_legacy() -> None:
    element = chosen(inbound_of(both_versions()), ONLY_IN_LEGACY)
    assert element.namespace is Namespace.LEGACY
    assert element.key_for(ONLY_IN_LEGACY) is not None


def test_key_in_both_prefers_omemo2() -> None:
    assert chosen(inbound_of(both_versions()), IN_BOTH).namespace is Namespace.V2


def test_key_only_in_omemo2_element_picks_omemo2() -> None:
    assert chosen(inbound_of(both_versions()), 4223).namespace is Namespace.V2


def test_key_in_neither_keeps_omemo2() -> None:
    """Not for us at all: the OMEMO 2 element goes on (and fails as "not for this device")."""
    assert chosen(inbound_of(both_versions()), 999).namespace is Namespace.V2


def test_single_element_is_left_alone() -> None:
    inbound = Inbound(Arrival.LIVE, "bob@localhost/phone", OWN, encrypted=legacy_encrypted())
    assert for_device(inbound, IN_BOTH) is inbound


def test_inbox_row_keeps_the_second_element() -> None:
    inbound = inbound_of(both_versions())
    assert Inbound.from_bytes(inbound.to_bytes()) == inbound
