"""Build and parse the SCE envelope (`urn:xmpp:sce:1`) that OMEMO 2 encrypts as its payload.

`build_envelope` writes, in this order, `<content>` (the body as `<body xmlns='jabber:client'>`,
and for a file message, a body that is exactly one `aesgcm://` link, also that link as an OOB
`<x xmlns='jabber:x:oob'><url>` (XEP-0066), so it travels only inside the encryption),
`<rpad>` (0–200 random characters so that ciphertext lengths do not reveal message lengths),
`<time stamp>`, `<to jid>` and `<from jid>`; `parse_envelope` returns the body and the affixes
and refuses anything that is not a well-formed envelope. Checking the affixes against the outer
stanza (e.g. `<to>` must be the room for a groupchat message) is the caller's decision.

The envelope comes out of a decryption, so it is authenticated, but still peer-controlled: no
DTD or entity declarations are accepted and size is bounded.
"""

from __future__ import annotations

import secrets
import string
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime

from tui_omemo.model import ReplyRef
from tui_omemo.protocol.media_link import file_link
from tui_omemo.xmpp.correction import REPLACE_TAG, replace_element, replaced_id
from tui_omemo.xmpp.errors import MalformedStanza
from tui_omemo.xmpp.reply import FALLBACK_TAG, REPLY_TAG, read_reply, reply_elements

SCE_NAMESPACE = "urn:xmpp:sce:1"
CLIENT_NAMESPACE = "jabber:client"
OOB_NAMESPACE = "jabber:x:oob"
OMEMO2_NAMESPACE = "urn:xmpp:omemo:2"
MAX_ENVELOPE_BYTES = 1024 * 1024
MAX_RPAD_CHARS = 200
_RPAD_ALPHABET = string.ascii_letters + string.digits + "+/"
# 256 byte values onto 64 characters, each character 4 times: a uniformly random byte gives a
# uniformly random character, so one `token_bytes` call replaces a `choice` per character.
_RPAD_TABLE = (_RPAD_ALPHABET * 4).encode("ascii")

# Elements that must never travel inside <content> (XEP-0420 business rules); dropped on parse.
_NOT_ENCRYPTABLE = frozenset(
    {
        "{urn:xmpp:hints}store",
        "{urn:xmpp:hints}no-store",
        "{urn:xmpp:hints}no-copy",
        "{urn:xmpp:hints}no-permanent-store",
        "{urn:xmpp:sid:0}stanza-id",
        "{urn:xmpp:sid:0}origin-id",
        "{http://jabber.org/protocol/address}addresses",
        "{urn:xmpp:eme:0}encryption",
    }
)


def _tag(name: str) -> str:
    return f"{{{SCE_NAMESPACE}}}{name}"


@dataclass(frozen=True, slots=True)
class Envelope:
    """A parsed envelope.

    Attributes:
        body: the text of `<content><body xmlns='jabber:client'>`, or None when there is none.
        timestamp: `<time stamp>` (aware, UTC), or None.
        to: `<to jid>`, or None.
        sender: `<from jid>`, or None.
        opt_out_reason: the reason text of an OMEMO 2 `<opt-out>` in the content, or None.
        other_content: qualified tags of further `<content>` children we do not interpret.
        replaces: the id of a XEP-0308 `<replace>` in the content (a correction), or None.
        reply: a XEP-0461 `<reply>` in the content (with its fallback range), or None.
    """

    body: str | None
    timestamp: datetime | None
    to: str | None
    sender: str | None
    opt_out_reason: str | None = None
    other_content: tuple[str, ...] = ()
    replaces: str | None = None
    reply: ReplyRef | None = None


def build_envelope(
    body: str,
    *,
    sender: str,
    to: str | None,
    timestamp: datetime | None = None,
    replaces: str | None = None,
    reply: ReplyRef | None = None,
) -> bytes:
    """The UTF-8 bytes of an envelope holding `body`.

    Args:
        body: the message text.
        sender: our bare JID (`<from jid>`).
        to: the recipient's bare JID, or the room's bare JID for a groupchat message (MUST).
        timestamp: `<time stamp>`; now when None.
        replaces: the id of the message this one corrects (XEP-0308 `<replace>` in the
            content, encrypted with it), or None.
        reply: a XEP-0461 reply (`<reply>` and its `<fallback>` in the content), or None.

    Returns:
        The serialized envelope, ready for the OMEMO 2 payload encryption (with the OOB
        element of a file message).
    """
    when = (timestamp or datetime.now(UTC)).astimezone(UTC)
    padding = random_padding()
    return "".join(
        (
            _HEAD,
            f"<ns1:body>{_text(body)}</ns1:body>" if body else "<ns1:body />",
            _oob(body),
            "" if replaces is None else _replace(replaces),
            "" if reply is None else _reply(reply),
            "</ns0:content>",
            f"<ns0:rpad>{padding}</ns0:rpad>" if padding else "<ns0:rpad />",
            f'<ns0:time stamp="{when.strftime("%Y-%m-%dT%H:%M:%SZ")}" />',
            "" if to is None else f'<ns0:to jid="{_attribute(to)}" />',
            f'<ns0:from jid="{_attribute(sender)}" /></ns0:envelope>',
        )
    ).encode("utf-8")


_HEAD = f'<ns0:envelope xmlns:ns0="{SCE_NAMESPACE}" xmlns:ns1="{CLIENT_NAMESPACE}"><ns0:content>'
"""The envelope as `ET.tostring` writes it (generated prefixes, `<x />` for empty elements),
kept byte for byte: a string template costs a fraction of building and serializing a tree."""
_TEXT_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))
_ATTRIBUTE_ESCAPES = (
    *_TEXT_ESCAPES,
    ('"', "&quot;"),
    ("\r", "&#13;"),
    ("\n", "&#10;"),
    ("\t", "&#09;"),
)


def _oob(body: str) -> str:
    """A file message's link again as an XEP-0066 `<x><url>` (inside the content, so only
    inside the encryption); nothing for any other body."""
    if file_link(body) is None:
        return ""
    url = _text(body.strip())
    return f'<ns2:x xmlns:ns2="{OOB_NAMESPACE}"><ns2:url>{url}</ns2:url></ns2:x>'


def _replace(message_id: str) -> str:
    """The `<replace>` of a correction inside `<content>` (the shape of slixmpp's stanza
    class, with its namespace as the default one)."""
    element = replace_element(message_id)
    namespace, _, name = element.tag[1:].partition("}")
    return f'<{name} xmlns="{_attribute(namespace)}" id="{_attribute(message_id)}" />'


def _reply(reply: ReplyRef) -> str:
    """The `<reply>` and `<fallback>` of a reply inside `<content>`."""
    return "".join(ET.tostring(element, encoding="unicode") for element in reply_elements(reply))


def _text(value: str) -> str:
    """Character data escaped as `ET.tostring` escapes it."""
    return _escaped(value, _TEXT_ESCAPES)


def _attribute(value: str) -> str:
    """An attribute value escaped as `ET.tostring` escapes it (quotes and line ends too)."""
    return _escaped(value, _ATTRIBUTE_ESCAPES)


def _escaped(value: str, escapes: tuple[tuple[str, str], ...]) -> str:
    for char, entity in escapes:  # `&` first, so no entity is escaped twice
        if char in value:
            value = value.replace(char, entity)
    return value


def random_padding() -> str:
    """`<rpad>` text: a uniformly random length of 0–200, each character uniformly random
    from the base64 alphabet (CSPRNG), so the length of the ciphertext hides the body's."""
    length = secrets.randbelow(MAX_RPAD_CHARS + 1)
    return secrets.token_bytes(length).translate(_RPAD_TABLE).decode("ascii")


def parse_envelope(data: bytes) -> Envelope:
    """Parse decrypted envelope bytes.

    Raises:
        MalformedStanza: for non-UTF-8 or non-XML bytes, DTDs, a root other than
            `<envelope xmlns='urn:xmpp:sce:1'>`, a missing `<content>`, duplicate affixes,
            a bad timestamp, or more than 1 MB.
    """
    if len(data) > MAX_ENVELOPE_BYTES:
        raise MalformedStanza("SCE envelope larger than 1 MB")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise MalformedStanza("SCE envelope contains a DTD or entity declaration")
    try:
        # DTDs (the entity-expansion attacks S314 warns about) are refused just above.
        root = ET.fromstring(data.decode("utf-8"))  # noqa: S314
    except (UnicodeDecodeError, ET.ParseError) as error:
        raise MalformedStanza("SCE envelope is not well-formed UTF-8 XML") from error
    if root.tag != _tag("envelope"):
        raise MalformedStanza(
            f"SCE: root is {root.tag}, expected <envelope xmlns='{SCE_NAMESPACE}'>"
        )
    contents = root.findall(_tag("content"))
    if len(contents) != 1:
        raise MalformedStanza(f"SCE: {len(contents)} <content> elements, expected exactly one")
    body, opt_out, others = _content(contents[0])
    replaces = replaced_id(contents[0])
    return Envelope(
        body=body,
        timestamp=_timestamp(_single(root, "time")),
        to=_jid(_single(root, "to")),
        sender=_jid(_single(root, "from")),
        opt_out_reason=opt_out,
        other_content=others,
        replaces=replaces,
        reply=read_reply(contents[0]),
    )


_KNOWN = (REPLACE_TAG, REPLY_TAG, FALLBACK_TAG)


def _content(content: ET.Element) -> tuple[str | None, str | None, tuple[str, ...]]:
    body: str | None = None
    opt_out: str | None = None
    others: list[str] = []
    for child in content:
        if child.tag == f"{{{CLIENT_NAMESPACE}}}body":
            if body is not None:
                raise MalformedStanza("SCE: more than one <body>")
            body = child.text or ""
        elif child.tag == f"{{{OMEMO2_NAMESPACE}}}opt-out":
            reason = child.find(f"{{{OMEMO2_NAMESPACE}}}reason")
            opt_out = (reason.text or "") if reason is not None else ""
        elif child.tag not in _NOT_ENCRYPTABLE and child.tag not in _KNOWN:
            others.append(child.tag)
    return body, opt_out, tuple(others)


def _single(root: ET.Element, name: str) -> ET.Element | None:
    found = root.findall(_tag(name))
    if len(found) > 1:
        raise MalformedStanza(f"SCE: more than one <{name}>")
    return found[0] if found else None


def _jid(element: ET.Element | None) -> str | None:
    if element is None:
        return None
    jid = element.get("jid")
    if not jid:
        raise MalformedStanza("SCE: affix without a jid")
    return jid


def _timestamp(element: ET.Element | None) -> datetime | None:
    if element is None:
        return None
    stamp = element.get("stamp", "")
    try:
        parsed = datetime.fromisoformat(stamp)
    except ValueError as error:
        raise MalformedStanza("SCE: <time stamp> is not an ISO 8601 date-time") from error
    if parsed.tzinfo is None:
        raise MalformedStanza("SCE: <time stamp> has no time zone")
    return parsed.astimezone(UTC)
