"""`QueueClient`: an `XmppClient` whose incoming messages wait in a queue for the test to read.

Production code hands every incoming message to a stanza sink (`XmppClient.set_stanza_sink`,
the service's transport sets one). Tests and benchmarks of the XMPP layer alone want to await
"the next message" instead: this client sets a sink that queues the accepted ones, in arrival
order (live messages and carbons; refused ones, errors and archive results never reach it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from tui_omemo.xmpp.client import XmppClient
from tui_omemo.xmpp.messages import IncomingMessage
from tui_omemo.xmpp.received import Received


class QueueClient(XmppClient):
    """An `XmppClient` (same arguments) that queues accepted incoming messages."""

    def __init__(self, jid: str, password: str, **options: Any) -> None:
        super().__init__(jid, password, **options)
        self._incoming: asyncio.Queue[IncomingMessage] = asyncio.Queue()
        self.set_stanza_sink(self._queue)

    def _queue(self, received: Received) -> None:
        if received.rejection is None and received.message is not None:
            self._incoming.put_nowait(received.message)

    async def messages(self) -> AsyncIterator[IncomingMessage]:
        """Incoming messages (live and carbons), in arrival order, forever."""
        while True:
            yield await self._incoming.get()

    async def next_message(self, within: float | None = None) -> IncomingMessage:
        """The next incoming message. Raises TimeoutError after `within` seconds."""
        return await asyncio.wait_for(self._incoming.get(), within)
