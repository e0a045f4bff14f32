"""Read elsewhere (issue 17): a chat read on another device of ours is read here too.

When the user reads a chat on another of their devices (Conversations, Gajim), that device
sends the contact a XEP-0333 displayed marker, which reaches us as a XEP-0280 sent carbon
(`xmpp/receipts.read_own_marker`: only a carbon whose wrapper comes from our own bare JID is
read). The chat's unread count then drops to the incoming messages that came after the marked
one, the roster row follows, and the marked message counts as displayed (this device does not
send the contact a marker for it again). It is our own reading, never the contact's: nothing
of the delivery state of our messages changes. A marker for a message this device does not
have yet is kept (a few, the newest) and tried again after each page of a catch-up: read on the
phone while this device was off, the marker comes back from our archive (`xmpp/archive.py`
hands it over as the live carbon is) in the same page as, or a page after, what it marks. It is
also tried again once a live batch with a message of its chat is committed (the marker's
carbon can overtake the message it marks, which is still being decrypted).

In a room, another device of ours marks the room's stanza-id in a groupchat marker, which the
room reflects from our nick: only that nick's marker counts (another occupant's reading is
theirs). A room's archive is not searched for markers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from tui_omemo.model import AckKind, Acknowledgement, bare_jid
from tui_omemo.service.runner import DbRunner

KEPT = 64
"""Markers kept for messages not archived yet."""


class ReadElsewhere:
    """Our other devices' displayed markers applied to the unread counts.

    Args:
        runner: the DB thread.
        own: our bare JID.
        unread: the unread counts per chat (the inbound pipeline's, read each time).
        changed: asks for the chat's roster row to be sent again.
        own_nick: our nick in a room we are in (None: not in it).
    """

    def __init__(
        self,
        runner: DbRunner,
        own: str,
        unread: Callable[[], dict[str, int]],
        changed: Callable[[str], None],
        own_nick: Callable[[str], str | None],
    ) -> None:
        self._runner = runner
        self._own = bare_jid(own)
        self._own_nick = own_nick
        self._unread = unread
        self._changed = changed
        self._pending: dict[tuple[str, str], Acknowledgement] = {}
        """Markers for messages not archived yet (oldest first, at most `KEPT`)."""

    async def apply(self, ack: Acknowledgement) -> None:
        """Lower the unread count of the chat our other device marked displayed (`ack.chat`
        set by the XMPP side only for a sent carbon or archived message of our own account,
        and for a room's groupchat marker); anyone else's marker changes nothing."""
        if ack.chat is None or ack.kind is not AckKind.DISPLAYED:
            return
        chat, message_id = bare_jid(ack.chat), ack.message_id
        room = bare_jid(ack.sender) == chat
        if room and ack.sender.partition("/")[2] != (self._own_nick(chat) or "/"):
            return  # another occupant's reading, or a room we are not in
        if not room and bare_jid(ack.sender) != self._own:
            return
        before = self._unread().get(chat, 0)
        later = await self._runner.write(
            lambda uow: uow.deliveries.read_elsewhere(chat, message_id, room=room)
        )
        if later is None:
            self._pending[chat, message_id] = ack
            while len(self._pending) > KEPT:
                del self._pending[next(iter(self._pending))]
            return
        self._pending.pop((chat, message_id), None)
        unread = self._unread()
        now = unread.get(chat, 0)
        # messages counted while the archive was read may be newer than it: they stay unread
        left = min(now, later + max(0, now - before))
        if left < now:
            unread[chat] = left
            self._changed(chat)

    async def retry(self, chats: Collection[str] | None = None) -> None:
        """Apply again the markers whose message was not archived yet: all of them (a
        catch-up page was just committed), or those of `chats` (a live batch with messages
        of these chats was)."""
        for (chat, _id), ack in list(self._pending.items()):
            if chats is None or chat in chats:
                await self.apply(ack)
