"""Sends of one chat join the send queue in the order they were made.

A send gets ready before it joins the queue of the outbound pipeline (`service/outbound.py`):
the chat's remembered choices are read, the contact's device list may be fetched (a network
round trip, or the cache), a room's member list is asked for. Those waits end in any order, so
a message written after another one could be queued first (its device list came from the
cache, the earlier one's from the network) and go out, be archived and be read before it: the
contact would see the conversation reordered.

So a send gets ready in its chat's turn: the turns of one chat are given in the order they were
asked for (an `asyncio.Lock` wakes its waiters first come, first served, and a waiter that gives
up leaves the line), and the next turn begins once the send is queued. Sends of different chats
never wait for each other, and the sends of one chat still wait for the engine lock together
(one send group), since a turn ends before its send waits for that lock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Line:
    """One chat's line: its lock and how many sends stand in it (the line goes when empty)."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    standing: int = 0


class ChatTurns:
    """The turns of the chats (contacts and rooms, by bare JID) whose sends get ready."""

    def __init__(self) -> None:
        self._lines: dict[str, _Line] = {}

    @contextlib.asynccontextmanager
    async def turn(self, chat: str) -> AsyncIterator[None]:
        """Hold `chat`'s turn for the block: it begins once every earlier send of the chat left
        its own block. It must be entered before the send's first wait (where the order is
        still the user's), and the send must be handed to the outbound pipeline right after
        the block, with no wait in between: leaving the block does not suspend and the pipeline
        queues a send before it first suspends, so the next send of the chat comes after it.
        """
        line = self._lines.setdefault(chat, _Line())
        line.standing += 1
        try:
            async with line.lock:
                yield
        finally:
            line.standing -= 1
            if not line.standing:
                del self._lines[chat]
