"""Delivery receipts (XEP-0184) and displayed markers (XEP-0333) on the wire.

The element shapes come from slixmpp's stanza plugins (`xep_0184`, `xep_0333`); these functions
only put them on, or read them off, `xml.etree` `<message>` elements. Receipts and markers
travel outside the encryption, as every OMEMO 0.3 client sends them: they carry no content,
only the id of the message they acknowledge. A 1:1 message of ours asks for both (`request`
and `markable`); groupchat messages ask for neither (a receipt request in a room would be
answered by every occupant's every device).
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.plugins.xep_0184 import stanza as receipts
from slixmpp.plugins.xep_0333 import stanza as markers
from slixmpp.xmlstream import register_stanza_plugin

from tui_omemo.model import AckKind, Acknowledgement

for _plugin in (receipts.Request, receipts.Received, markers.Markable, markers.Displayed):
    register_stanza_plugin(slixmpp.Message, _plugin)

_REQUEST = f"{{{receipts.Request.namespace}}}{receipts.Request.name}"
_RECEIVED = f"{{{receipts.Received.namespace}}}{receipts.Received.name}"
_MARKABLE = f"{{{markers.Markable.namespace}}}{markers.Markable.name}"
_DISPLAYED = f"{{{markers.Displayed.namespace}}}{markers.Displayed.name}"
_HINTS_STORE = "{urn:xmpp:hints}store"


def add_requests(message: ET.Element) -> None:
    """Ask for a delivery receipt and mark `message` markable (1:1 `chat` messages only)."""
    if message.get("type", "normal") == "groupchat":
        return
    stanza = slixmpp.Message()  # type: ignore[no-untyped-call]
    stanza["request_receipt"] = True
    stanza.enable("markable")
    message.extend(list(stanza.xml))


def requests(message: ET.Element) -> tuple[bool, bool]:
    """(asks for a receipt, is markable) of an incoming `<message>`."""
    return message.find(_REQUEST) is not None, message.find(_MARKABLE) is not None


def read_acknowledgement(message: ET.Element) -> Acknowledgement | None:
    """The receipt or displayed marker an incoming `<message>` carries (None: neither, one
    without an id, or one in a room: XEP-0333 markers of occupants name the room's stanza-ids
    and are not about a 1:1 message of ours)."""
    if message.get("type") == "groupchat":
        return None
    for tag, kind in ((_RECEIVED, AckKind.RECEIVED), (_DISPLAYED, AckKind.DISPLAYED)):
        element = message.find(tag)
        if element is not None and element.get("id"):
            return Acknowledgement(kind, message.get("from", ""), str(element.get("id")))
    return None


def read_own_marker(inner: ET.Element) -> Acknowledgement | None:
    """Our own displayed marker, sent by another device of ours, from the `<message>` of a
    XEP-0280 sent carbon (the caller checked the wrapper came from our own bare JID): the
    chat it was sent to is the chat read elsewhere. None: no marker (a receipt our other
    device sent says nothing about reading), no id, no recipient, or a room."""
    element = inner.find(_DISPLAYED)
    chat = inner.get("to", "")
    if element is None or not element.get("id") or not chat or inner.get("type") == "groupchat":
        return None
    return Acknowledgement(
        AckKind.DISPLAYED, inner.get("from", ""), str(element.get("id")), chat=chat
    )


def read_room_marker(message: ET.Element) -> Acknowledgement | None:
    """A displayed marker of a room's occupant (a groupchat `<message>` from `room/nick`): the
    service counts only our own nick's, reflected from another device of ours. None: no
    marker, no id, or not from an occupant."""
    element = message.find(_DISPLAYED)
    sender = message.get("from", "")
    if message.get("type") != "groupchat" or element is None or not element.get("id"):
        return None
    if "/" not in sender:
        return None
    return Acknowledgement(
        AckKind.DISPLAYED, sender, str(element.get("id")), chat=sender.partition("/")[0]
    )


def new_online_mark() -> str:
    """A random start for the ids of the acknowledgements one online session sends (8 hex
    digits and a dash): they can be told apart when our archive returns them."""
    return f"{secrets.token_hex(4)}-"


def build_acknowledgement(
    to: str, kind: AckKind, message_id: str, *, id_prefix: str = ""
) -> ET.Element:
    """A `<message type='chat'>` with a receipt or a displayed marker for `message_id`; its own
    id is random, after `id_prefix`."""
    stanza = slixmpp.Message()  # type: ignore[no-untyped-call]
    if kind is AckKind.RECEIVED:
        stanza["receipt"] = message_id
    else:
        stanza["displayed"]["id"] = message_id
    element = ET.Element(
        "{jabber:client}message", to=to, type="chat", id=id_prefix + secrets.token_urlsafe(12)
    )
    element.extend(list(stanza.xml))
    if kind is AckKind.DISPLAYED:
        ET.SubElement(element, _HINTS_STORE)  # markers are archived, so other clients see them
    return element
