"""The corrections part of `api` (issue #17, XEP-0308), in a module of its own so that `api.py`
stays under 600 lines: `ChatService` inherits `EditingService`, so the UI sees it through
`api` as before."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tui_omemo.service.api import SendReport


class EditingService(Protocol):
    """Correcting our last message, and what a corrected message said before."""

    async def correct_last(self, peer: str, text: str) -> SendReport:
        """Send `text` as a correction of our last encrypted message in the chat with `peer`
        (a contact or a joined room), encrypted like any message. The chat then shows the
        corrected message with the new text, marked edited (the correction arrives as a
        `MessageSent` whose `ChatMessage.corrects` names it).

        Raises:
            SendFailed: nothing was sent (nothing to correct, or the send failed).
        """
        ...

    async def reply(self, peer: str, archive_id: int, text: str) -> SendReport:
        """Send `text` to the contact `peer` as a reply (XEP-0461) to its message
        `archive_id`, encrypted; it arrives as a `MessageSent` whose `reply_to` names it.

        Raises:
            SendFailed: nothing was sent.
        """
        ...

    async def message_versions(self, archive_id: int) -> list[str]:
        """Every text of a message, oldest first (one entry when it was never corrected,
        none when there is no such message)."""
        ...
