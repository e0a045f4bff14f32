"""XEP-0308 last message correction: the `<replace id>` element, through slixmpp's stanza class.

Where it travels (OMEMO-WIRE.md, issue #17): next to an OMEMO 0.3 `<encrypted>` it stays outside
the encryption, in the `<message>` (as Conversations sends it: only the body is encrypted);
with OMEMO 2 it goes inside the SCE envelope's `<content>`, where it is authenticated. Which
one the service believes is its decision (`service/corrections.py`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from slixmpp.plugins.xep_0308.stanza import Replace

REPLACE_TAG = f"{{{Replace.namespace}}}{Replace.name}"
MAX_ID_CHARS = 256
"""A longer id is no id we ever sent: ignored."""


def replace_element(message_id: str) -> ET.Element:
    """`<replace xmlns='urn:xmpp:message-correct:0' id=…/>` for the message `message_id`."""
    element = Replace()
    element["id"] = message_id
    xml: ET.Element = element.xml
    return xml


def replaced_id(parent: ET.Element) -> str | None:
    """The id a `<replace>` child of `parent` corrects, or None (no element, empty or
    oversized id)."""
    found = parent.find(REPLACE_TAG)
    if found is None:
        return None
    value = str(Replace(xml=found)["id"])
    return value if 0 < len(value) <= MAX_ID_CHARS else None
