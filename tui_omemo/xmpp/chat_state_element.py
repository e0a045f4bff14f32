"""The XEP-0085 chat state inside a `<message>` we send (issue 17): a content message carries
`<active/>` itself (XEP-0085 §5) instead of a stanza of its own.

The element's shape comes from slixmpp's `xep_0085` stanza class, registered here so that the
pure message builders (`messages.py`, `sending.py`) work without a stream. It goes outside the
encryption in both OMEMO versions, as a chat state sent alone does (it carries no content), and
where receivers read it: at the top level of the `<message>` (`chatstates.py`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.plugins.xep_0085 import ChatState
from slixmpp.xmlstream import register_stanza_plugin

register_stanza_plugin(slixmpp.Message, ChatState)


def add_chat_state(message: ET.Element, state: str | None) -> None:
    """Put the chat state `state` into `message` (nothing for None).

    Raises:
        ValueError: a state XEP-0085 does not define.
    """
    if state is None:
        return
    if state not in ChatState.states:
        raise ValueError(f"not a chat state: {state}")
    stanza = slixmpp.Message()  # type: ignore[no-untyped-call]
    stanza["chat_state"] = state
    message.extend(list(stanza.xml))
