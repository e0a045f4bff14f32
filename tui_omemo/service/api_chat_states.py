"""The chat-state part of `api` (XEP-0085, issue 17), in a module of its own so that `api.py`
stays under 600 lines: the `ChatStateChanged` event and the composer's calls. `api` re-exports
the event and `ChatService` inherits `ChatStatesService`, so the UI sees both through `api`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ChatStateChanged:
    """Someone in chat `chat` is now `state` (active, composing, paused, inactive, gone);
    `nick` is the occupant in a room, "" in a 1:1 chat. Never stored: a state lasts until the
    next one or the next message."""

    chat: str
    state: str
    nick: str = ""


class ChatStatesService(Protocol):
    """What the composer tells the contact (each call sends at most one stanza, and only
    when the state changes, the `chat_states` setting is on and the contact may hear it)."""

    async def composing(self, chat: str) -> None:
        """The user typed in the composer of `chat` (paused follows by itself a few seconds
        after the last keystroke)."""
        ...

    async def chat_active(self, chat: str) -> None:
        """`chat` is on screen, or a message was just sent in it."""
        ...

    async def chat_inactive(self, chat: str) -> None:
        """The user left `chat`."""
        ...
