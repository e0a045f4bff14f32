"""Chat states (XEP-0085, issue 17): "typing…" from the contact, and ours from the composer.

Nothing here is stored: a chat state never reaches the inbox, the archive or the outbox; it
goes out alone (or inside a message we send, never in the store's copy), unencrypted as with
every OMEMO client (it carries no content), and is dropped when the stream is down.

Outgoing, with the `chat_states` setting on (off: nothing is sent and nothing shown):
composing on the first keystroke, paused `PAUSE_AFTER_S` after the last one, active when the
chat opens, inactive when the user leaves a chat that was told anything. A message we send in a
chat that was told a state carries active inside its own stanza (`for_message`, asked by the
outbox as it leaves), so sending costs no stanza of its own. A state is sent only when it
differs from the last one sent to that chat, so typing costs one stanza, not one per keystroke.
Never `gone`, neither on leaving a chat nor on quitting: the contact's client shows a chat
state for our whole account, while another device of ours may still be in the chat (Gajim
likewise ends with active rather than gone); leaving already sends inactive, and quitting
sends unavailable presence.

Who hears ours (XEP-0085 §5.1, conservatively): a contact in the roster with a presence
subscription either way (to, from, both), or one that sent us a chat state on this run; a room
we are in. Nobody else, so a stranger learns nothing of our typing.

Who is heard: a 1:1 state counts for the chat of its sender's bare JID only (never another),
not from our own account and not in a groupchat message; in a room we are in, only a
groupchat state from an occupant other than ourselves (shown as "NICK is typing…").
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from tui_omemo.config import Settings
from tui_omemo.model import bare_jid
from tui_omemo.service.api import ChatStateChanged, ServiceEvent
from tui_omemo.service.ports import Transport, TransportError
from tui_omemo.service.ports_chat_states import ChatStateArrival

PAUSE_AFTER_S = 5.0
"""Seconds without a keystroke after which composing becomes paused."""

SENDS_TO = frozenset({"to", "from", "both"})
"""Roster subscriptions whose contacts get our chat states."""


class ChatStates:
    """The chat states of one account.

    Args:
        transport: the service's transport.
        settings: the current settings (`chat_states`).
        emit: where `ChatStateChanged` goes.
        subscription: a contact's roster subscription word, None when not in the roster.
        room_nick: our nick in a room we are in, None for anything else.
    """

    def __init__(
        self,
        transport: Transport,
        settings: Callable[[], Settings],
        emit: Callable[[ServiceEvent], None],
        subscription: Callable[[str], Awaitable[str | None]],
        room_nick: Callable[[str], str | None],
    ) -> None:
        self._transport = transport
        self._settings = settings
        self._emit = emit
        self._subscription = subscription
        self._room_nick = room_nick
        self._sent: dict[str, str] = {}
        """The last state sent, per chat."""
        self._heard: set[str] = set()
        """Bare JIDs that sent us a chat state on this run."""
        self._pauses: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        transport.set_chat_state_handler(self._arrived)

    # --- incoming ---------------------------------------------------------------------

    def _arrived(self, arrival: ChatStateArrival) -> None:
        if not self._settings().chat_states:
            return
        chat = bare_jid(arrival.sender)
        resource = arrival.sender.partition("/")[2]
        own_nick = self._room_nick(chat)
        if own_nick is not None:
            if arrival.message_type == "groupchat" and resource and resource != own_nick:
                self._emit(ChatStateChanged(chat, arrival.state, resource))
            return
        if arrival.message_type == "groupchat" or chat == self._transport.own_bare_jid:
            return
        self._heard.add(chat)
        self._emit(ChatStateChanged(chat, arrival.state))

    # --- outgoing ---------------------------------------------------------------------

    async def composing(self, chat: str) -> None:
        """A keystroke in `chat`'s composer: composing (once), paused after a quiet spell."""
        self._cancel_pause(chat)
        loop = asyncio.get_running_loop()
        self._pauses[chat] = loop.call_later(PAUSE_AFTER_S, self._paused, chat)
        await self._send(chat, "composing")

    async def active(self, chat: str) -> None:
        """`chat` opened, or a message was sent in it."""
        self._cancel_pause(chat)
        await self._send(chat, "active")

    def for_message(self, chat: str) -> str | None:
        """The state a message we send in `chat` carries, as it leaves: active (XEP-0085 §5:
        a content message says so itself, no stanza of its own), when the setting is on and
        `chat` was told a state on this run (it may hear them); else None. Composing ends."""
        if not self._settings().chat_states or chat not in self._sent:
            return None
        self._cancel_pause(chat)
        self._sent[chat] = "active"
        return "active"

    async def inactive(self, chat: str) -> None:
        """The user left `chat` (only a chat that was told something hears it)."""
        self._cancel_pause(chat)
        if chat in self._sent:
            await self._send(chat, "inactive")

    def close(self) -> None:
        """Stop the pending paused timers."""
        for handle in self._pauses.values():
            handle.cancel()
        self._pauses.clear()
        for task in self._tasks:
            task.cancel()

    def _paused(self, chat: str) -> None:
        self._pauses.pop(chat, None)
        if self._sent.get(chat) == "composing":
            task = asyncio.create_task(self._send(chat, "paused"))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _cancel_pause(self, chat: str) -> None:
        handle = self._pauses.pop(chat, None)
        if handle is not None:
            handle.cancel()

    async def _send(self, chat: str, state: str) -> None:
        """One stanza, only for a change, with the setting on, to someone who may hear it;
        a stream that is down drops it (the next state says what is true then)."""
        if self._sent.get(chat) == state or not self._settings().chat_states:
            return
        room = self._room_nick(chat) is not None
        if not room and not await self._may_hear(chat):
            return
        with contextlib.suppress(TransportError):
            self._transport.send_chat_state(chat, state, groupchat=room)
            self._sent[chat] = state

    async def _may_hear(self, chat: str) -> bool:
        if chat in self._heard:
            return True
        return await self._subscription(chat) in SENDS_TO
