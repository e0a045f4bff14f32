"""The connection as the service last heard of it, for start-up steps that meet an outage.

The XMPP client reconnects by itself whenever the stream breaks (DESIGN.md §3 invariant 10).
A start-up step (presence, publishing our keys, the MAM catch-up) that fails because the
stream broke under it should therefore wait for the reconnect and be done again, rather than
end the program (`listen` used to exit 1 on "publishing … bundles: timeout").
`LinkWatch.back_after_failure` tells the two apart: a failure on a link that went down is an
outage (True once the link is back); one on a link that stays up, or one that was closed for
good, is a real failure (False).
"""

from __future__ import annotations

import asyncio

from tui_omemo.service.ports import LINK_OFFLINE

OUTAGE_GRACE = 2.0
"""Seconds a failed request's link may take to be reported lost (the request may fail first,
by a timeout or a write into the dying socket)."""


class LinkWatch:
    """Follows the transport's connection reports (`heard`)."""

    def __init__(self) -> None:
        self.up = True
        """The service is built on a connected transport."""
        self.closed = False
        self._waiters: list[asyncio.Future[None]] = []

    def heard(self, connected: bool, detail: str) -> None:
        """A connection report: up, lost (reconnecting), or closed for good."""
        self.up = connected
        self.closed = not connected and detail == LINK_OFFLINE
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _change(self, within: float | None) -> bool:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, within)
        except TimeoutError:
            return False
        return True

    async def back_after_failure(self, grace: float = OUTAGE_GRACE) -> bool:
        """After a request failed: True once the link, lost meanwhile (or within `grace`
        seconds), is back; False when it stayed up or was closed for good."""
        if self.up and not self.closed and not await self._change(grace):
            return False
        while not self.up and not self.closed:
            await self._change(None)
        return self.up


class CatchUpGap:
    """Whether our archive may hold messages we never received (DESIGN.md §3 invariant 1).

    Live messages move the MAM catch-up start past themselves, which must not happen while a
    message may be missing before them: from the loss of a stream until it is resumed (the
    server resends what it sent us unacknowledged), and after a fresh session (the lost
    stream's unacknowledged messages are only in the archive) until a catch-up completed.
    """

    def __init__(self) -> None:
        self._down = False
        self._due = False

    @property
    def open(self) -> bool:
        """True while live messages must leave the catch-up start where it is."""
        return self._down or self._due

    def lost(self) -> None:
        """The stream broke."""
        self._down = True

    def resumed(self) -> None:
        """The stream was resumed: nothing of it was lost."""
        self._down = False

    def fresh(self) -> None:
        """A fresh session: what the old stream lost is only in the archive."""
        self._down = False
        self._due = True

    def caught_up(self) -> None:
        """A catch-up read the archive to its end."""
        self._due = False
