"""`Received`: one incoming `<message>` as `XmppClient` hands it to a stanza sink.

A sink (`XmppClient.set_stanza_sink`) sees every message, not only the ones that pass the
client's gates: carbons and MAM results are unwrapped with the wrapper and its `from` kept, and
what the client refuses (a carbon not sent by our own account, an archive result for a query we
never opened or from an archive we did not ask, a malformed `<encrypted>`) comes with a
`Rejection`, so the caller can report it (DESIGN.md §3.6) instead of losing it to a counter.
"""

from __future__ import annotations

import enum
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from tui_omemo.model import Arrival
from tui_omemo.xmpp.messages import CarbonDirection, IncomingMessage


class Rejection(enum.StrEnum):
    """Why the client refused a message."""

    FORGED_CARBON = "forged_carbon"
    FORGED_ARCHIVE_RESULT = "forged_archive_result"
    UNSOLICITED_ARCHIVE_RESULT = "unsolicited_archive_result"
    MALFORMED = "malformed"


@dataclass(frozen=True, slots=True)
class Received:
    """One incoming message, unwrapped.

    Attributes:
        route: live, offline, carbon (which direction) or archive result (`model.Arrival`).
        sender: the author's JID (the forwarded message's `from` for carbons and archive
            results); for a forged wrapper, the wrapper's `from`.
        recipient: the (inner) message's `to`.
        message_type: chat, groupchat, normal …
        message_id: the (inner) message's `id`.
        message: the parsed message; None when it was rejected before or while parsing.
        wrapper_from: the wrapping stanza's `from` (carbons and archive results).
        query_id: the `queryid` of an archive result.
        rejection: why the client refused it, or None.
        detail: a one-line reason for a rejection ("" otherwise).
    """

    route: Arrival
    sender: str
    recipient: str
    message_type: str = "chat"
    message_id: str | None = None
    message: IncomingMessage | None = field(default=None, repr=False)
    wrapper_from: str | None = None
    query_id: str | None = None
    rejection: Rejection | None = None
    detail: str = ""

    @property
    def solicited(self) -> bool:
        """For archive results: whether it answers a query we opened, from the archive we
        asked (True for every other route)."""
        return self.rejection not in (
            Rejection.FORGED_ARCHIVE_RESULT,
            Rejection.UNSOLICITED_ARCHIVE_RESULT,
        )


def accepted(
    message: IncomingMessage,
    route: Arrival,
    *,
    wrapper_from: str | None = None,
    query_id: str | None = None,
) -> Received:
    """A message that passed every gate."""
    return Received(
        route,
        message.sender,
        message.recipient,
        message.message_type,
        message.message_id,
        message,
        wrapper_from,
        query_id,
    )


def refused(  # noqa: PLR0917 (every part of the stanza's path)
    stanza: ET.Element,
    route: Arrival,
    rejection: Rejection,
    detail: str,
    wrapper_from: str | None = None,
    query_id: str | None = None,
) -> Received:
    """A refused message; `stanza` is the message whose attributes are reported (the inner one
    for a malformed forwarded message, the wrapper for a forged one)."""
    return Received(
        route,
        stanza.get("from", ""),
        stanza.get("to", ""),
        stanza.get("type", "normal" if rejection is Rejection.MALFORMED else "chat"),
        stanza.get("id"),
        None,
        wrapper_from,
        query_id,
        rejection,
        detail[:200],
    )


def carbon_route(direction: CarbonDirection | None) -> Arrival:
    """The route of a (possibly) carbon-copied message."""
    if direction is None:
        return Arrival.LIVE
    return Arrival.CARBON_SENT if direction is CarbonDirection.SENT else Arrival.CARBON_RECEIVED
