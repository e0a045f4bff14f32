"""Keeping slixmpp's cost per stanza and per read down, on a stream `XmppClient` made.

Every registered handler's matcher sits behind a `_Gate` (root element, a needed child, and for
handlers that only raise an event nobody listens to, that event): slixmpp runs every handler's
matcher on every incoming stanza. XEP-0115 caps are stamped on our presences by a plain
function instead of slixmpp's coroutine filter, which cost every outgoing stanza a task and an
`asyncio.wait`. The socket gets TCP_NODELAY and reads of at most `READ_SIZE`.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import slixmpp
from slixmpp.stanza import Presence
from slixmpp.xmlstream.matcher import MatchXPath, StanzaPath
from slixmpp.xmlstream.matcher.base import MatcherBase

from tui_omemo.xmpp.messages import CLIENT

log = logging.getLogger(__name__)

READ_SIZE = 16 * 1024
"""Bytes per socket read: slixmpp handles a whole read in one loop step, and asyncio's default
(256 KiB) would let a burst of offline messages or a big MAM page hold the loop for tens of
milliseconds (DESIGN.md §6)."""

_ONLY_RAISE = {
    "IM": "message",
    "IMError": "message_error",
    "Data Form": "message_xform",
    "Forwarded Stanza": "forwarded_stanza",
    "Carbon Received": "carbon_received",
    "Carbon Sent": "carbon_sent",
    "Pubsub Event: Purge": "pubsub_purge",
    "Pubsub Event: Delete": "pubsub_delete",
    "Pubsub Event: Configuration": "pubsub_config",
    "Pubsub Event: Subscription": "pubsub_subscription",
}
"""slixmpp handlers (by name) that do nothing but raise one event (the pubsub ones also a
node's own event, mapped only by `register_pep`, which we never call). We read messages
ourselves (`inbound.Inbound`), so nobody listens to these: they are skipped unless someone does."""
_NEEDS_CHILD = {
    "Pubsub Event: Items": "{http://jabber.org/protocol/pubsub#event}event",
    "Direct MUC Invitations": "{jabber:x:conference}x",
    "Entity Capabilities": "{http://jabber.org/protocol/caps}c",
}
"""Handlers that can only match a stanza with this child."""


class _Gate(MatcherBase):
    """A handler's matcher behind cheap checks: the stanza's root element (and a child it
    needs), and whether anyone listens to the only event the handler raises. slixmpp runs
    every handler's matcher on every incoming stanza; most of them cost 5-30 us each, and
    none but ours and the pubsub one can match a chat message. The handler calls the gate
    directly (`gate_handlers`), and the gate reads slixmpp's table of event listeners itself:
    with ~30 handlers, each call saved is saved ~30 times per stanza."""

    def __init__(
        self,
        inner: MatcherBase,
        root: str | None,
        child: str | None,
        heard: Callable[[], bool] | None,
    ) -> None:
        super().__init__(inner._criteria)
        # A `MatchXPath` of just the root element is the root check itself: no need to run it
        exact = isinstance(inner, MatchXPath) and root is not None and inner._criteria == root
        self._inner = None if exact else inner.match
        self._root, self._child, self._heard = root, child, heard

    def match(self, xml: Any) -> bool:
        element: ET.Element = xml.xml
        if self._root is not None and element.tag != self._root:
            return False
        if self._child is not None and element.find(self._child) is None:
            return False
        if self._heard is not None and not self._heard():
            return False
        return self._inner is None or bool(self._inner(xml))


def _root_of(matcher: MatcherBase) -> str | None:
    """The root element a `MatchXPath` or `StanzaPath` can match (`{ns}name`), or None
    when it cannot be told cheaply."""
    if isinstance(matcher, StanzaPath):
        first = matcher._raw_criteria.split("/", 1)[0].split("@", 1)[0]
        return f"{{{CLIENT}}}{first}" if first.isalpha() else None
    if isinstance(matcher, MatchXPath):
        criteria = matcher._criteria
        if not criteria.startswith("{"):
            return None
        close = criteria.find("}")
        name = criteria[close + 1 :].split("/", 1)[0]
        return criteria[: close + 1] + name if close > 0 and name.isalpha() else None
    return None


def gate_handlers(xmpp: slixmpp.ClientXMPP) -> None:
    """Put `_Gate`s in front of the stream's `MatchXPath`/`StanzaPath` handlers (what they
    match is unchanged; they only stop costing time on stanzas they can never match)."""
    handlers = getattr(xmpp, "_XMLStream__handlers", None)
    if not isinstance(handlers, list):
        return  # another slixmpp layout: leave the handlers as they are
    for handler in handlers:
        matcher = handler._matcher
        root = _root_of(matcher)
        event = _ONLY_RAISE.get(handler.name)
        heard = None if event is None else _listened(xmpp, event)
        if root is not None or heard is not None:
            gate = _Gate(matcher, root, _NEEDS_CHILD.get(handler.name), heard)
            handler._matcher = gate
            handler.match = gate.match  # what `BaseHandler.match` does, one call fewer


def _listened(xmpp: slixmpp.ClientXMPP, event: str) -> Callable[[], bool]:
    """Whether anyone listens to `event` (`event_handled(event) > 0`), read straight from
    slixmpp's table of listeners when it has the expected layout."""
    listeners = getattr(xmpp, "_XMLStream__event_handlers", None)
    if isinstance(listeners, dict):
        return lambda: bool(listeners.get(event))
    return lambda: xmpp.event_handled(event) > 0


_AVAILABLE = frozenset({"available", "chat", "away", "dnd", "xa"})
"""Presence types slixmpp's caps filter stamps (an available presence, whatever its show)."""


def stamp_caps_in_sync(xmpp: slixmpp.ClientXMPP) -> None:
    """Replace slixmpp's `out` filter `_filter_add_caps` (a coroutine, so slixmpp runs it as a
    task under `asyncio.wait` for every outgoing stanza, message or not) by `_CapsStamp`, which
    does the same to presences without leaving the send loop's step."""
    caps: Any = xmpp.plugin["xep_0115"]
    xmpp.del_filter("out", caps._filter_add_caps)
    xmpp.add_filter("out", _CapsStamp(caps))


class _CapsStamp:
    """Puts our `<c node hash ver/>` on an available presence, as `_filter_add_caps` does.

    The verification string comes from the plugin's `get_verstring`, whose handler slixmpp
    registers as a plain function (`StaticCaps`): its future is already resolved. Should a
    coroutine handler ever be registered instead, the presence leaves without caps rather than
    holding the send loop (and a warning says so)."""

    def __init__(self, caps: Any) -> None:
        self._caps = caps

    def __call__(self, stanza: Any) -> Any:
        caps = self._caps
        if not isinstance(stanza, Presence) or not caps.broadcast:
            return stanza
        if stanza["type"] not in _AVAILABLE:
            return stanza
        found = caps.get_verstring(stanza["from"])
        if not found.done():
            found.cancel()
            log.warning("caps verification string not at hand; presence sent without caps")
            return stanza
        ver = found.result()
        if ver:
            stanza["caps"]["node"] = caps.caps_node
            stanza["caps"]["hash"] = caps.hash
            stanza["caps"]["ver"] = ver
        return stanza


def tune_socket(xmpp: slixmpp.ClientXMPP) -> None:
    """TCP_NODELAY (an XMPP stanza is one small write; Nagle plus delayed ACKs would hold it
    back) and reads of at most `READ_SIZE` bytes."""
    transport: Any = xmpp.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if hasattr(transport, "max_size"):
        transport.max_size = READ_SIZE
