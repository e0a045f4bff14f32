"""`Inbound`: incoming `<message>` stanzas of one `XmppClient`, translated for the stanza sink.

Every message goes first to the message listeners as XML (subjects, MUC status messages), then,
unless it is an error, to the sink (`set_stanza_sink`) as a `received.Received`, refused ones
included with their `Rejection` (the service raises a security event or archives a failure row
for each): a carbon is unwrapped only when its wrapper comes from our own bare JID (else refused
and counted in `rejected_carbons`); a malformed `<encrypted>` is refused and counted in
`malformed_stanzas`; messages with neither `<encrypted>` nor `<body>` are dropped, and so is
everything while no sink is set. Archive results go to `Archive.result`: those of an open query
are collected by it and never reach the sink.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from tui_omemo.model import Acknowledgement, Arrival
from tui_omemo.xmpp.archive import Archive
from tui_omemo.xmpp.connection import Connection
from tui_omemo.xmpp.errors import MalformedStanza
from tui_omemo.xmpp.messages import (
    CLIENT,
    CarbonDirection,
    ForgedCarbon,
    is_mam_result,
    read_message,
    unwrap_carbon,
)
from tui_omemo.xmpp.receipts import read_acknowledgement, read_own_marker, read_room_marker
from tui_omemo.xmpp.received import Received, Rejection, accepted, carbon_route, refused
from tui_omemo.xmpp.secure import SecureStream

log = logging.getLogger(__name__)


class Inbound:
    """The incoming messages of one `XmppClient` (its `Connection` and `Archive`)."""

    def __init__(self, connection: Connection, archive: Archive) -> None:
        self._connection = connection
        self._archive = archive
        archive.own_messages = lambda inner: self._acknowledge(read_own_marker(inner))
        self._sink: Callable[[Received], None] | None = None
        self._acknowledgements: Callable[[Acknowledgement], None] | None = None
        self._message_listeners: list[Callable[[ET.Element], None]] = []
        self.rejected_carbons = 0
        self.malformed_stanzas = 0

    def setup(self, xmpp: SecureStream) -> None:
        """Read the messages of a new stream."""
        xmpp.register_handler(
            Callback("tui-omemo messages", MatchXPath(f"{{{CLIENT}}}message"), self._on_message)
        )

    def add_message_listener(self, listener: Callable[[ET.Element], None]) -> None:
        """Call `listener(xml)` with every incoming `<message>` as it arrived (subjects,
        MUC status messages), before any unwrapping."""
        self._message_listeners.append(listener)

    def set_stanza_sink(self, sink: Callable[[Received], None] | None) -> None:
        """Hand every incoming message to `sink` as a `Received`, refused ones included;
        None drops them."""
        self._sink = sink

    def set_acknowledgement_sink(self, sink: Callable[[Acknowledgement], None] | None) -> None:
        """Hand every receipt and displayed marker without content (issue 17) to `sink`,
        unchecked (the service checks who may acknowledge what); None drops them."""
        self._acknowledgements = sink

    def _on_message(self, stanza: Any) -> None:
        xml: ET.Element = stanza.xml
        for listener in self._message_listeners:
            listener(xml)
        if xml.get("type") == "error":
            return
        received = self._archive.result(xml) if is_mam_result(xml) else self._receive(xml)
        if received is not None and self._sink is not None:
            self._sink(received)

    def _receive(self, xml: ET.Element) -> Received | None:
        own = self._connection.bare_jid
        try:
            carbon = unwrap_carbon(xml, own)
        except ForgedCarbon as error:
            self.rejected_carbons += 1
            log.warning("%s", error)
            return refused(
                xml,
                Arrival.CARBON_RECEIVED,
                Rejection.FORGED_CARBON,
                str(error),
                wrapper_from=xml.get("from", ""),
            )
        inner, direction, wrapper_from = xml, None, None
        if carbon is not None:
            (inner, direction), wrapper_from = carbon, xml.get("from", own)
        route = carbon_route(direction)
        try:
            incoming = read_message(inner, own, direction)
        except MalformedStanza as error:
            self.malformed_stanzas += 1
            log.warning("malformed message from %s: %s", inner.get("from"), error)
            return refused(
                inner, route, Rejection.MALFORMED, f"malformed <encrypted>: {error}", wrapper_from
            )
        if incoming.encrypted is None and incoming.body is None:
            if direction is CarbonDirection.SENT:  # our other device's marker
                self._acknowledge(read_own_marker(inner))
            else:
                self._acknowledge(read_acknowledgement(inner) or read_room_marker(inner))
            return None
        if route is Arrival.LIVE and incoming.timestamp is not None:
            route = Arrival.OFFLINE
        return accepted(incoming, route, wrapper_from=wrapper_from)

    def _acknowledge(self, acknowledgement: Acknowledgement | None) -> None:
        if acknowledgement is not None and self._acknowledgements is not None:
            self._acknowledgements(acknowledgement)
