"""The chat-state part of the `Transport` port (XEP-0085, issue 17), in a module of its own so
that `ports.py` stays under 600 lines; `ports.Transport` inherits `ChatStatePort`.

A chat state is ephemeral: it goes out alone, unencrypted (it carries no content, as with every
OMEMO client) and never through the outbox, or inside a message of ours (`Outbound.chat_state`,
set as the outbox hands it over, never stored); one that arrives goes to the handler and
nowhere else (never to the inbox or the archive).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ChatStateArrival:
    """A chat state as it arrived: `sender` is the full `from` (room@service/nick in a room),
    `message_type` the type of its `<message>` (chat, normal, groupchat)."""

    sender: str
    message_type: str
    state: str


ChatStateHandler = Callable[[ChatStateArrival], None]


class ChatStatePort(Protocol):
    """Sending and hearing chat states."""

    def send_chat_state(self, to: str, state: str, *, groupchat: bool) -> None:
        """Send `state` (active, composing, paused, inactive, gone) to `to` on its own.

        Raises:
            TransportError: not connected.
        """
        ...

    def set_chat_state_handler(self, handler: ChatStateHandler) -> None:
        """Where the chat states that arrive go."""
        ...
