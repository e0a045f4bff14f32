"""XEP-0461 replies: the `<reply to id>` element and its XEP-0428 `<fallback>` (the quoted
lines at the start of the body), through slixmpp's stanza classes.

Where they travel (issue #17, as corrections do): next to an OMEMO 0.3 `<encrypted>` outside
the encryption, in the `<message>`; with OMEMO 2 inside the SCE envelope's `<content>`. What
the range means for the shown text is the service's decision (`service/replies.py`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from slixmpp.plugins.xep_0428.stanza import Fallback, FallbackBody
from slixmpp.plugins.xep_0461.stanza import NS as REPLY_NAMESPACE
from slixmpp.plugins.xep_0461.stanza import Reply

from tui_omemo.model import ReplyRef

REPLY_TAG = f"{{{Reply.namespace}}}{Reply.name}"
FALLBACK_TAG = f"{{{Fallback.namespace}}}{Fallback.name}"
MAX_ID_CHARS = 256


def reply_elements(ref: ReplyRef) -> list[ET.Element]:
    """`<reply>` and, with a range, the `<fallback for='urn:xmpp:reply:0'><body start end/>`."""
    reply = Reply()
    reply["id"] = ref.id
    if ref.to:
        reply["to"] = ref.to
    elements: list[ET.Element] = [reply.xml]
    if ref.start is not None and ref.end is not None:
        fallback = Fallback()
        fallback["for"] = REPLY_NAMESPACE
        body = FallbackBody()
        body["start"], body["end"] = str(ref.start), str(ref.end)
        fallback.xml.append(body.xml)
        elements.append(fallback.xml)
    return elements


def read_reply(parent: ET.Element) -> ReplyRef | None:
    """The reply a `<reply>` child of `parent` makes (with its fallback range when one is
    for replies), or None (no element, empty or oversized id)."""
    found = parent.find(REPLY_TAG)
    if found is None:
        return None
    reply = Reply(xml=found)
    ident, to = str(reply["id"]), str(reply["to"]) or None
    if not 0 < len(ident) <= MAX_ID_CHARS:
        return None
    for element in parent.findall(FALLBACK_TAG):
        fallback = Fallback(xml=element)
        if fallback["for"] == REPLY_NAMESPACE:
            body = element.find(f"{{{FallbackBody.namespace}}}{FallbackBody.name}")
            if body is not None:
                return ReplyRef(ident, to, _int(body.get("start")), _int(body.get("end")))
    return ReplyRef(ident, to)


def _int(value: str | None) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        return None
