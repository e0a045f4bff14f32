"""The presence part of `api` (issue 17), in a module of its own so that `api.py` stays under
600 lines: the `Presence` of a roster row and answering subscription requests. `api` re-exports
`Presence` and `ChatService` inherits `SocialService`, so the UI sees both through `api` as
before."""

from __future__ import annotations

import enum
from typing import Protocol


class Presence(enum.StrEnum):
    """A contact's availability as shown in the roster (BUSY is XMPP's dnd)."""

    ONLINE = "online"
    AWAY = "away"
    BUSY = "busy"
    XA = "xa"
    OFFLINE = "offline"


class SocialService(Protocol):
    """Answering the requests to see our presence."""

    async def answer_subscription(self, bare_jid: str, allow: bool, add: bool) -> None:
        """Allow or deny `bare_jid`'s request to see our presence; `add`: allow it and add the
        contact back (with our own request to see theirs).

        Raises:
            TransportError: not connected, or the server refused adding the contact.
        """
        ...
