"""Encrypted `<message>` stanzas: build outgoing ones, read incoming ones, unwrap carbons.

Pure functions on `xml.etree.ElementTree` elements (`jabber:client` namespace), so they are
tested without a server; `client.py` moves them on and off the wire.

Outgoing (OMEMO-WIRE.md §3.5, §4.5): `<encrypted>`, the EME hint (`urn:xmpp:eme:0`, name
`OMEMO` or `OMEMO 2`), a `<store/>` hint, an XEP-0359 `<origin-id>` equal to the message id,
and an optional plaintext fallback `<body>` telling other clients the message is encrypted,
in both versions: slixmpp (and so slixmpp-omemo's users) raises its `message` event only for
a stanza with a `<body>`, and clients without OMEMO would see nothing at all. Next to OMEMO 2
it comes with the XEP-0428 marker `<fallback for='urn:xmpp:omemo:2'/>` (as QXmpp/Kaidan send
it), so receivers and archives that know OMEMO 2 can tell the body is only a fallback. An
empty (key-transport) message never carries one: there is nothing to read.

Incoming: `read_message` returns the `<encrypted>` as an `EncryptedElement` (or None), with the
ids and the delay timestamp; a stanza carrying both versions keeps the OMEMO 2 element in
`encrypted` and the 0.3 one in `also` (which of them holds a key for us is the service's call).
An XEP-0359 `<stanza-id>` is only believed when its `by` is the entity that stamped it for us:
our own bare JID for 1:1 messages, the room for groupchat.
`unwrap_carbon` accepts a XEP-0280 carbon only when the wrapper comes from our own bare JID
(DESIGN.md invariant 6); anything else raises `ForgedCarbon`.
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from xml.sax.saxutils import escape

from tui_omemo.model import Namespace, ReplyRef, bare_jid
from tui_omemo.protocol.elements import EncryptedElement
from tui_omemo.xmpp.chat_state_element import add_chat_state
from tui_omemo.xmpp.correction import replace_element, replaced_id
from tui_omemo.xmpp.errors import TransportError
from tui_omemo.xmpp.receipts import add_requests, requests
from tui_omemo.xmpp.reply import read_reply, reply_elements
from tui_omemo.xmpp.translate import encrypted_from_xml, encrypted_to_xml

CLIENT = "jabber:client"
EME = "urn:xmpp:eme:0"
HINTS = "urn:xmpp:hints"
SID = "urn:xmpp:sid:0"
DELAY = "urn:xmpp:delay"
CARBONS = "urn:xmpp:carbons:2"
FORWARD = "urn:xmpp:forward:0"
MAM = "urn:xmpp:mam:2"
FALLBACK = "urn:xmpp:fallback:0"

LEGACY_BODY_HINT = (
    "I sent you an OMEMO encrypted message but your client doesn't seem to support that."
)
EME_NAMES = {Namespace.LEGACY: "OMEMO", Namespace.V2: "OMEMO 2"}


class ForgedCarbon(TransportError):
    """A carbon-copy wrapper that does not come from our own bare JID (someone spoofing a copy
    of 'our' messages). Such stanzas are dropped."""


class CarbonDirection(StrEnum):
    """Which XEP-0280 copy a stanza is."""

    RECEIVED = "received"
    SENT = "sent"


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """What the service needs from one received `<message>`.

    Attributes:
        sender: the `from` attribute (full JID; for groupchat the occupant JID).
        recipient: the `to` attribute, or "" when absent.
        message_type: `chat`, `groupchat`, `normal`, …
        message_id: the `id` attribute, or None.
        origin_id: XEP-0359 `<origin-id id>` (set by the sender), or None.
        stanza_id: XEP-0359 `<stanza-id id>` stamped by our server (1:1) or the room, or None.
        timestamp: XEP-0203 `<delay stamp>` (UTC), or None for live messages.
        encrypted: the parsed `<encrypted>` (OMEMO 2 when both versions are present), or None
            when the message has none.
        body: the plaintext `<body>` (a fallback hint when `encrypted` is set; never show it
            as the message in that case).
        carbon: set when the message came out of a carbon copy.
        also: the 0.3 `<encrypted>` of a stanza that carries both versions, or None.
        replaces: the id of a XEP-0308 `<replace>` outside the encryption, or None.
        reply: a XEP-0461 `<reply>` (and its fallback range) outside the encryption, or None.
        receipt: it asks for a delivery receipt (XEP-0184).
        markable: it may be acknowledged with a displayed marker (XEP-0333).
    """

    sender: str
    recipient: str
    message_type: str
    message_id: str | None
    origin_id: str | None
    stanza_id: str | None
    timestamp: datetime | None
    encrypted: EncryptedElement | None
    body: str | None
    carbon: CarbonDirection | None = None
    also: EncryptedElement | None = None
    replaces: str | None = None
    reply: ReplyRef | None = None
    receipt: bool = False
    markable: bool = False

    @property
    def sender_bare_jid(self) -> str:
        """The sender's bare JID (for groupchat: the room)."""
        return bare_jid(self.sender)


def new_message_id() -> str:
    """A fresh, unguessable message id (also used as the origin-id)."""
    return secrets.token_urlsafe(12)


def build_encrypted_message(
    encrypted: EncryptedElement,
    to: str,
    *,
    message_type: str = "chat",
    message_id: str | None = None,
    body_hint: str | None = None,
    also: EncryptedElement | None = None,
    replaces: str | None = None,
    reply: ReplyRef | None = None,
    chat_state: str | None = None,
) -> ET.Element:
    """An outgoing `<message>` carrying `encrypted`.

    Args:
        encrypted: the element to send.
        to: the recipient's bare JID (or the room's for groupchat).
        message_type: `chat` or `groupchat`.
        message_id: the stanza id; a fresh one when None. Also written as origin-id.
        body_hint: a plaintext fallback `<body>` for clients that cannot decrypt, or None;
            left out of an empty (key-transport) message. With an OMEMO 2 element the
            XEP-0428 `<fallback>` marker says the body is only that.
        also: an element of the other OMEMO version for the devices that publish only that
            one, in the same stanza (each client reads its version's element).
        replaces: the id of the message this one corrects (XEP-0308): next to a 0.3
            element a `<replace>` outside the encryption, where OMEMO 0.3 clients read it;
            OMEMO 2 carries it only inside the SCE envelope.
        reply: the message this one answers (XEP-0461), outside for 0.3 as `replaces`.
        chat_state: an XEP-0085 state (active) the message carries, outside the encryption
            in both versions (no content; receivers read it at the top level); left out of
            an empty (key-transport) message.

    Returns:
        The `<message xmlns='jabber:client'>` element.
    """
    message_id = message_id or new_message_id()
    message = ET.Element(f"{{{CLIENT}}}message", to=to, type=message_type, id=message_id)
    elements = [encrypted] if also is None else [encrypted, also]
    for element in elements:
        message.append(encrypted_to_xml(element))
    for element in elements:
        ET.SubElement(
            message,
            f"{{{EME}}}encryption",
            name=EME_NAMES[element.namespace],
            namespace=str(element.namespace),
        )
    if body_hint is not None and any(e.payload is not None for e in elements):
        ET.SubElement(message, f"{{{CLIENT}}}body").text = body_hint
        if any(e.namespace is Namespace.V2 for e in elements):
            ET.SubElement(message, f"{{{FALLBACK}}}fallback", {"for": str(Namespace.V2)})
    if replaces is not None and any(e.namespace is Namespace.LEGACY for e in elements):
        message.append(replace_element(replaces))
    if reply is not None and any(e.namespace is Namespace.LEGACY for e in elements):
        message.extend(reply_elements(reply))
    ET.SubElement(message, f"{{{HINTS}}}store")
    ET.SubElement(message, f"{{{SID}}}origin-id", id=message_id)
    if any(e.payload is not None for e in elements):
        add_chat_state(message, chat_state)
        add_requests(message)  # issue 17: not for empty (key-transport) messages
    return message


_ATTRIBUTE_ESCAPES = {'"': "&quot;", "'": "&apos;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}


def serialize(element: ET.Element, namespace: str = CLIENT) -> str | None:
    """`element` as stream XML, each namespace a default `xmlns` where it changes (no
    prefixes); `namespace` is the one in force around it (the stream's). About 10x faster
    than slixmpp's serializer for a 1 KB OMEMO message.

    Returns:
        None for what this writer does not cover (a tag or attribute in no or a prefixed
        namespace, text after a child): the caller serializes it another way.
    """
    parts: list[str] = []
    return "".join(parts) if _write(element, namespace, parts) else None


def _write(element: ET.Element, namespace: str, parts: list[str]) -> bool:
    tag = element.tag
    if not isinstance(tag, str) or not tag.startswith("{") or element.tail:
        return False
    own, _, name = tag[1:].partition("}")
    parts.append(f"<{name}")
    if own != namespace:
        parts.append(f' xmlns="{escape(own, _ATTRIBUTE_ESCAPES)}"')
    for key, value in element.attrib.items():
        if ":" in key or "{" in key:
            return False
        parts.append(f' {key}="{escape(value, _ATTRIBUTE_ESCAPES)}"')
    if element.text is None and len(element) == 0:
        parts.append(" />")
        return True
    parts.append(">")
    if element.text:
        parts.append(escape(element.text))
    for child in element:
        if not _write(child, own, parts):
            return False
    parts.append(f"</{name}>")
    return True


def read_message(
    message: ET.Element,
    own_bare_jid: str,
    carbon: CarbonDirection | None = None,
    *,
    archive_id: str | None = None,
    forwarded_delay: datetime | None = None,
) -> IncomingMessage:
    """Read one incoming `<message>` (already unwrapped from carbons/MAM if it was).

    Args:
        message: the `<message>` element.
        own_bare_jid: our account's bare JID, to decide which `<stanza-id>` to believe.
        carbon: the direction of the carbon it came out of, or None.
        archive_id: for an archive result, its id: it is the stanza id.
        forwarded_delay: for an archive result, the `<delay>` of its `<forwarded>`, which
            wins over the message's own.

    Raises:
        MalformedStanza: when an `<encrypted>` (of either namespace) is present but malformed.
    """
    sender = message.get("from", "")
    message_type = message.get("type", "normal")
    found = [
        encrypted_from_xml(element)
        for namespace in (Namespace.V2, Namespace.LEGACY)
        if (element := message.find(f"{{{namespace}}}encrypted")) is not None
    ]
    encrypted = found[0] if found else None
    also = found[1] if len(found) > 1 else None
    origin = message.find(f"{{{SID}}}origin-id")
    body = message.find(f"{{{CLIENT}}}body")
    if archive_id is None:
        stamper = bare_jid(sender) if message_type == "groupchat" else bare_jid(own_bare_jid)
        archive_id = _stanza_id(message, stamper)
    receipt, markable = requests(message)
    return IncomingMessage(
        sender=sender,
        recipient=message.get("to", ""),
        message_type=message_type,
        message_id=message.get("id"),
        origin_id=origin.get("id") if origin is not None else None,
        stanza_id=archive_id,
        timestamp=forwarded_delay or parse_delay(message),
        encrypted=encrypted,
        body=body.text if body is not None else None,
        carbon=carbon,
        also=also,
        replaces=replaced_id(message),
        reply=read_reply(message),
        receipt=receipt,
        markable=markable,
    )


def _stanza_id(message: ET.Element, stamper: str) -> str | None:
    for element in message.findall(f"{{{SID}}}stanza-id"):
        if bare_jid(element.get("by", "")) == stamper and element.get("id"):
            return element.get("id")
    return None


def parse_delay(message: ET.Element) -> datetime | None:
    """The XEP-0203 `<delay stamp>` directly inside `message` (UTC), or None when absent/bad."""
    element = message.find(f"{{{DELAY}}}delay")
    if element is None:
        return None
    try:
        stamp = datetime.fromisoformat(element.get("stamp", ""))
    except ValueError:
        return None
    return stamp.astimezone(UTC) if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def unwrap_carbon(
    message: ET.Element, own_bare_jid: str
) -> tuple[ET.Element, CarbonDirection] | None:
    """The forwarded `<message>` inside a XEP-0280 carbon, or None when `message` is no carbon.

    Raises:
        ForgedCarbon: when the wrapper's `from` is not our own bare JID, or the carbon has no
            forwarded message.
    """
    for direction in CarbonDirection:
        wrapper = message.find(f"{{{CARBONS}}}{direction}")
        if wrapper is None:
            continue
        wrapper_from = message.get("from", "")
        if "/" in wrapper_from or bare_jid(wrapper_from) != bare_jid(own_bare_jid):
            raise ForgedCarbon(f"carbon {direction} from {message.get('from')!r} dropped")
        inner = wrapper.find(f"{{{FORWARD}}}forwarded/{{{CLIENT}}}message")
        if inner is None:
            raise ForgedCarbon(f"carbon {direction} without a forwarded message")
        return inner, direction
    return None


def is_mam_result(message: ET.Element) -> bool:
    """True for a XEP-0313 result message (handled by `mam.py`, never as a live message)."""
    return message.find(f"{{{MAM}}}result") is not None
