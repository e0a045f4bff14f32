"""The part of the `Transport` port for delivery receipts and displayed markers (issue 17).

Kept apart from `ports.py` (which is at its size limit); `Transport` includes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from tui_omemo.model import AckKind, Acknowledgement


class Acknowledging(Protocol):
    """Receipts (XEP-0184) and displayed markers (XEP-0333), unencrypted, in and out."""

    def set_acknowledgement_handler(self, handler: Callable[[Acknowledgement], None]) -> None:
        """Where incoming receipts and markers go (unchecked: the service checks them)."""
        ...

    def send_acknowledgement(self, to: str, kind: AckKind, message_id: str) -> None:
        """Acknowledge the message `message_id` of `to` (a full or bare JID).

        Raises:
            TransportError: not connected.
        """
        ...

    def sent_since_online(self, sender: str, message_id: str | None) -> bool:
        """Whether an archived stanza (its `from` and `id`) is an acknowledgement this
        transport sent since its last `go_online`: our own archive keeps the receipts we send,
        and a catch-up that meets one has reached the moment we came online."""
        ...
