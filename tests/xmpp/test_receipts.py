"""Issue 17 on the wire (no server): which messages ask for a receipt and are markable, how
receipts and displayed markers are read and built (slixmpp's stanza plugins' shapes)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.xmpp.test_translate import legacy_encrypted, v2_encrypted
from tui_omemo.model import AckKind, Acknowledgement
from tui_omemo.protocol.elements import EncryptedElement
from tui_omemo.xmpp import messages
from tui_omemo.xmpp.receipts import (
    build_acknowledgement,
    read_acknowledgement,
    read_own_marker,
    read_room_marker,
    requests,
)

ELEMENTS = [legacy_encrypted(), v2_encrypted()]


@pytest.mark.parametrize("element", ELEMENTS, ids=["0.3", "2"])
def test_a_chat_message_asks_a_groupchat_message_and_an_empty_one_do_not(
    element: EncryptedElement,
) -> None:
    chat = messages.build_encrypted_message(element, "bob@x")
    room = messages.build_encrypted_message(element, "room@muc.x", message_type="groupchat")
    empty = messages.build_encrypted_message(
        legacy_encrypted(None) if element.namespace.label == "0.3" else v2_encrypted(None),
        "bob@x",
    )
    assert requests(chat) == (True, True)
    assert requests(room) == (False, False)
    assert requests(empty) == (False, False)  # a key transport: nothing to acknowledge
    parsed = messages.read_message(ET.fromstring(ET.tostring(chat)), "bob@x")
    assert (parsed.receipt, parsed.markable) == (True, True)


@pytest.mark.parametrize("kind", list(AckKind))
def test_acknowledgements_round_trip_outside_the_encryption(kind: AckKind) -> None:
    built = build_acknowledgement("alice@x", kind, "m-1")
    assert (built.get("to"), built.get("type")) == ("alice@x", "chat")
    assert built.find(f"{{{messages.CLIENT}}}body") is None
    assert not [child for child in built if child.tag.endswith("encrypted")]
    built.set("from", "alice@x/phone")
    assert read_acknowledgement(built) == Acknowledgement(kind, "alice@x/phone", "m-1")


def test_an_acknowledgement_without_an_id_is_none() -> None:
    bare = ET.fromstring(
        '<message xmlns="jabber:client" from="bob@x/a"><received xmlns="urn:xmpp:receipts"/>'
        "</message>"
    )
    assert read_acknowledgement(bare) is None


def test_our_other_devices_marker_names_the_chat_and_a_rooms_marker_is_none() -> None:
    """A sent carbon's displayed marker is ours, read elsewhere: its chat is its recipient;
        a receipt our other device sent says nothing about reading; an occupant's marker in a
        room (it names the room's stanza-ids) is no acknowledgement of a 1:1 message of ours, but
    a room marker, whose chat is the room (the service counts only our own nick's)."""
    own_marker = ET.fromstring(
        '<message xmlns="jabber:client" from="alice@x/phone" to="bob@x" type="chat">'
        '<displayed xmlns="urn:xmpp:chat-markers:0" id="m-2"/></message>'
    )
    assert read_own_marker(own_marker) == Acknowledgement(
        AckKind.DISPLAYED, "alice@x/phone", "m-2", chat="bob@x"
    )
    own_receipt = build_acknowledgement("bob@x", AckKind.RECEIVED, "m-2")
    assert read_own_marker(own_receipt) is None
    in_room = build_acknowledgement("alice@x", AckKind.DISPLAYED, "s-1")
    in_room.set("type", "groupchat")
    in_room.set("from", "room@muc.x/bob")
    assert read_acknowledgement(in_room) is None
    assert read_own_marker(in_room) is None
    assert read_room_marker(in_room) == Acknowledgement(
        AckKind.DISPLAYED, "room@muc.x/bob", "s-1", chat="room@muc.x"
    )
    in_room.set("from", "room@muc.x")  # the room itself is no occupant
    assert read_room_marker(in_room) is None
    assert read_room_marker(own_marker) is None  # a 1:1 marker
