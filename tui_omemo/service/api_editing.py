"""The corrections part of `api` (issue #17, XEP-0308), in a module of its own so that `api.py`
stays under 600 lines: `ChatService` inherits `EditingService`, so the UI sees it through
`api` as before."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tui_omemo.service.api import SendReport


class EditingService(Protocol):
    """Correcting our last message, and what a corrected message said before."""

    async def correct_last(
        self, peer: str, text: str, *, allow_partial: bool = False
    ) -> SendReport:
        """Send `text` as a correction of our last encrypted message in the chat with `peer`
        (a contact or a joined room), encrypted like any message. The chat then shows the
        corrected message with the new text, marked edited (the correction arrives as a
        `MessageSent` whose `ChatMessage.corrects` names it). In a room, `allow_partial` is
        the user's choice of "everyone with keys", as for `send_to_room`.

        Raises:
            SendFailed: nothing was sent (nothing to correct, or the send failed; in a room,
                `partial_possible` as for `send_to_room`).
        """
        ...

    async def reply(
        self, peer: str, archive_id: int, text: str, *, allow_partial: bool = False
    ) -> SendReport:
        """Send `text` to `peer` (a contact or a joined room) as a reply (XEP-0461) to the
        message `archive_id` of that chat, encrypted; it arrives as a `MessageSent` whose
        `reply_to` names it. In a room, `allow_partial` is the user's choice of "everyone
        with keys", as for `send_to_room`.

        Raises:
            SendFailed: nothing was sent (in a room, `partial_possible` as for
                `send_to_room`).
        """
        ...

    async def message_versions(self, archive_id: int) -> list[str]:
        """Every text of a message, oldest first (one entry when it was never corrected,
        none when there is no such message)."""
        ...
