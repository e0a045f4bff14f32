"""The corrections part of `OmemoChatService` (issue #17, XEP-0308): correcting our last
message of a chat (1:1 or room) and the versions of a corrected message; replies (XEP-0461,
1:1 chats and rooms). The rules of a correction in the archive are in
`service/corrections.py`, what a reply names in `service/replies.py`."""

from __future__ import annotations

from tui_omemo.model import bare_jid
from tui_omemo.protocol.media_link import file_link
from tui_omemo.service.api import SendFailed, SendReport
from tui_omemo.service.corrections import Correction, corrected_id, versions
from tui_omemo.service.facade_base import FacadeParts
from tui_omemo.service.replies import NO_ROOM_ID, answered_id, author, quoting
from tui_omemo.store import ArchivedMessage, Direction, UnitOfWork

LOOK_BACK = 200
"""How many of a chat's newest messages are searched for our last one."""
NOTHING_TO_ANSWER = "that message cannot be answered (it has no id)"
NOT_IN_ROOM = "that message is in a room you are not in; join it to answer"
NOTHING_TO_CORRECT = "you have sent no encrypted message in this chat to correct"
LAST_IS_A_FILE = "your last message in this chat is a file, which cannot be corrected"


def last_own(uow: UnitOfWork, peer: str) -> ArchivedMessage | None:
    """Our newest encrypted message of a chat that is not a correction (what a correction
    names: XEP-0308 corrections always name the first message), or None."""
    for row in uow.archive.page(peer, None, LOOK_BACK).messages:
        if row.direction is Direction.OUT and row.omemo_version and row.message_id:
            return row
    return None


class EditingFacade(FacadeParts):
    """Corrections: send one, list a message's versions."""

    async def correct_last(
        self, peer: str, text: str, *, allow_partial: bool = False
    ) -> SendReport:
        """Send `text` as a correction of our last encrypted message to `peer` (a contact or
        a joined room), encrypted like any message. `allow_partial`: in a room, the user
        chose "everyone with keys" (as `send_to_room`, remembered for the room).

        Raises:
            SendFailed: nothing was sent (no message to correct, or the send failed).
        """
        peer = bare_jid(peer)
        last = await self._runner.read(lambda uow: last_own(uow, peer))
        if last is None or last.message_id is None:
            raise SendFailed(NOTHING_TO_CORRECT, SendReport(None, None))
        if file_link(last.body) is not None:  # a text would replace the file (XEP-0308: the
            raise SendFailed(LAST_IS_A_FILE, SendReport(None, None))  # last message only)
        correction = Correction(last.message_id, last.id)
        if self.groups is not None and peer in self.groups.joined_rooms():
            return await self.groups.send_to_room(
                peer, text, allow_partial=allow_partial, correction=correction
            )
        return await self.session.send_text(
            peer, text, allow_plaintext=False, correction=correction
        )

    async def reply(
        self, peer: str, archive_id: int, text: str, *, allow_partial: bool = False
    ) -> SendReport:
        """Send `text` to `peer` (a contact or a joined room) as a reply (XEP-0461) to the
        message `archive_id` of that chat: the body quotes its first line as a fallback,
        encrypted like any message. In a room the reply names the room's stanza-id of the
        message (`service/replies.py`); `allow_partial` is the user's choice of "everyone
        with keys" (as `send_to_room`, remembered for the room).

        Raises:
            SendFailed: nothing was sent (no such message, one the room gave no stanza-id,
                a room we are not in, or the send failed; `partial_possible` as for
                `send_to_room`).
        """
        peer = bare_jid(peer)
        row = await self._runner.read(lambda uow: uow.archive.get(archive_id))
        if row is None or row.peer != peer:
            raise SendFailed(NOTHING_TO_ANSWER, SendReport(None, None))
        in_room = self.groups is not None and peer in self.groups.joined_rooms()
        if row.room is not None and not in_room:
            raise SendFailed(NOT_IN_ROOM, SendReport(None, None))
        answered = answered_id(row)
        if answered is None:
            words = NO_ROOM_ID if row.room is not None else NOTHING_TO_ANSWER
            raise SendFailed(words, SendReport(None, None))
        body, ref = quoting(text, row.body, answered, author(row))
        if self.groups is not None and in_room:
            return await self.groups.send_to_room(
                peer, body, allow_partial=allow_partial, reply=ref
            )
        return await self.session.send_text(peer, body, allow_plaintext=False, reply=ref)

    async def message_versions(self, archive_id: int) -> list[str]:
        """Every text a message had, oldest first (one entry when it was never corrected;
        empty when there is no such message). A correction's id gives its message's."""

        def read(uow: UnitOfWork) -> list[str]:
            row = uow.archive.get(archive_id)
            original = None if row is None else corrected_id(row.flags)
            if original is not None:
                row = uow.archive.get(original)
            return [] if row is None else versions(uow, row)

        return await self._runner.read(read)
