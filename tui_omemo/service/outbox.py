"""The outbox: our archived messages that the server has not confirmed yet (issue #4).

A send commits, in ONE unit of work, the advanced sending chains, the archived plaintext and
the stanza exactly as encrypted (`store.outbox`). Only then does the stanza leave. It stays
"pending" until a ping round trip after it left comes back (the server handles a stream's
stanzas in order, so the answer means it has the message); then the row leaves the outbox and
`MessageDelivered` is emitted.

When the stream is down the send is refused by the transport (`NotConnected`): the message stays
pending and the caller's report says it is queued. Pending messages are sent again, oldest first,
in the stored form (never encrypted again: the ratchet already advanced for them, and plaintext
never goes out instead) after a fresh session and at start-up (after a crash between the commit
and the hand-over), but only those the server does not have already (DESIGN.md §3 invariant 10):
our own archive is asked first for their origin-ids (`ArchivedIds`), and what it holds is
confirmed without a resend. A resumed stream resends nothing of what the old one took: the
server's `<resumed h>` decides, and the XMPP client resends what it did not count. A resend of a
message that did arrive (the archive could not be asked) carries the same id and origin-id,
which our receivers' de-duplication recognises.

Room messages (`RoomOutbound`) go out only while we are in the room: from the loss of a stream
(`stream_lost`) they wait until the rooms are joined again (`flush(rooms=True)`, after the rejoin
of a fresh session or once a resumed stream is back), since a server refuses a groupchat message
from a non-occupant after our ping was answered. That holds for old pending ones and for a new
one written between the fresh session and the end of the rejoin alike: it is reported queued
and is not delivered (no `MessageDelivered`) before it went out in the room.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tui_omemo.model import ReplyRef, bare_jid
from tui_omemo.protocol.elements import EncryptedElement
from tui_omemo.service import crashpoints
from tui_omemo.service.api import MessageDelivered, ServiceEvent
from tui_omemo.service.corrections import archive_correction
from tui_omemo.service.element_rows import element_from_json, element_json  # the inbox's
from tui_omemo.service.ports import (
    NotConnected,
    Outbound,
    Transport,
    TransportError,
)
from tui_omemo.service.replies import reply_from_json, reply_json
from tui_omemo.service.runner import DbRunner
from tui_omemo.store import NewMessage, OutboxItem, UnitOfWork

log = logging.getLogger(__name__)

STANZA_FORMAT = 1
CONFIRM_TIMEOUT = 20.0
"""Seconds a ping may take before the messages handed over stay pending (resent later)."""
CONFIRM_DELAY = 0.25
"""Seconds the background confirmation waits, so that a burst of sends costs one ping and one
write to the store rather than one each."""

Ping = Callable[[float], Awaitable[None]]
"""A round trip to the server within so many seconds (raises TransportError)."""
ArchivedIds = Callable[[Collection[str], int], Awaitable[set[str]]]
"""Which of these message ids of ours the server's archive holds since a time in ms (raises
TransportError when the archive cannot be asked)."""
ARCHIVE_SLACK_MS = 5 * 60 * 1000
"""The archive is searched from this long before the oldest unconfirmed message was written
(the server's clock stamps the archive, ours the outbox)."""


@dataclass(frozen=True, slots=True)
class RoomOutbound:
    """One groupchat message to send (`encrypted` None only for a chosen plaintext send;
    `body` is then the text, else the hint for clients without OMEMO; `replaces`: the id of
    the message it corrects, XEP-0308; `reply`: the message it answers, XEP-0461)."""

    room: str
    message_id: str
    encrypted: EncryptedElement | None
    body: str | None = field(default=None, repr=False)
    replaces: str | None = None
    reply: ReplyRef | None = None
    chat_state: str | None = None  # XEP-0085 (active), set as it leaves (`Outbox`)


Stanza = Outbound | RoomOutbound


@dataclass(frozen=True, slots=True)
class RoomPort:
    """How the outbox reaches rooms: `send` raises TransportError when the stream is down;
    `joined` says whether we are in a room on the current stream."""

    send: Callable[[RoomOutbound], None]
    joined: Callable[[str], bool]


def _element(element: EncryptedElement | None) -> dict[str, Any] | None:
    return None if element is None else element_json(element)


def _parsed(data: dict[str, Any] | None) -> EncryptedElement | None:
    return None if data is None else element_from_json(data)


def encode(message: Stanza) -> bytes:
    """The outbox row of a stanza: versioned JSON, ciphertext base64-encoded."""
    data: dict[str, Any] = {
        "format": STANZA_FORMAT,
        "id": message.message_id,
        "body": message.body,
        "encrypted": _element(message.encrypted),
    }
    if isinstance(message, RoomOutbound):
        data |= {"kind": "room", "to": message.room}
    else:
        data |= {"kind": "chat", "to": message.to, "also": _element(message.also)}
    if message.replaces is not None:
        data["replaces"] = message.replaces
    if message.reply is not None:
        data["reply"] = reply_json(message.reply)
    return json.dumps(data, sort_keys=True).encode()


def decode(raw: bytes) -> Stanza:
    """Read an outbox row written by `encode`.

    Raises:
        ValueError: not a row of a known format.
    """
    data = json.loads(raw)
    if not isinstance(data, dict) or data.get("format") != STANZA_FORMAT:
        raise ValueError("unknown outbox row format")
    to, message_id, body = str(data["to"]), str(data["id"]), data["body"]
    replaces, reply = data.get("replaces"), reply_from_json(data.get("reply"))
    if data.get("kind") == "room":
        return RoomOutbound(to, message_id, _parsed(data["encrypted"]), body, replaces, reply)
    if data.get("kind") == "chat":
        encrypted, also = _parsed(data["encrypted"]), _parsed(data["also"])
        return Outbound(to, message_id, encrypted, body, also, replaces, reply)
    raise ValueError("unknown outbox row kind")


def _decoded(items: Sequence[OutboxItem]) -> list[tuple[OutboxItem, Stanza]]:
    """The readable rows with their stanzas (unreadable ones are reported when sent)."""
    rows = []
    for item in items:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            rows.append((item, decode(item.stanza)))
    return rows


def archive_pending(uow: UnitOfWork, message: NewMessage, stanza: Stanza) -> int:
    """Archive our message with its stanza in the outbox (pending until the server has it);
    a correction rewrites the message it corrects (`service/corrections.py`)."""
    if stanza.replaces is None:
        archive_id = uow.archive.append(message)
    else:
        archive_id, _refused = archive_correction(uow, message, stanza.replaces)
    uow.outbox.add(archive_id, encode(stanza), message.timestamp)
    return archive_id


class Outbox:
    """Hands stanzas to the transport in archive order and confirms them with a ping.

    Args:
        transport: where stanzas go.
        runner: the DB thread.
        emit: where `MessageDelivered` goes.
        ping: the server round trip; None confirms a message once it was handed over
            (transports without one).
        archived: asks our archive which messages the server has; None resends every
            unconfirmed message after a fresh session.
        rooms: how room messages go out (the group-chat component's); None: no group
            chats, room messages wait.
        chat_state: the chat state a message to a chat carries as it leaves (XEP-0085: a
            content message says active; None: none), asked at each hand-over.
    """

    def __init__(  # noqa: PLR0917 (the collaborators)
        self,
        transport: Transport,
        runner: DbRunner,
        emit: Callable[[ServiceEvent], None],
        ping: Ping | None,
        archived: ArchivedIds | None = None,
        rooms: RoomPort | None = None,
        chat_state: Callable[[str], str | None] | None = None,
    ) -> None:
        self._transport = transport
        self._chat_state = chat_state
        self._runner = runner
        self._emit = emit
        self._ping = ping
        self._archived = archived
        self._sending = asyncio.Lock()
        self._handed: dict[int, str] = {}
        """archive id → peer of the messages handed to a stream, not confirmed."""
        self._stale: set[int] = set()
        """Messages that went to a stream since lost, so the server may or may not have
        them: a resumed stream takes care of them itself; otherwise they go again unless
        our archive holds them (asked before they are sent again)."""
        self._unsure_all = True
        """At start-up every pending message may have left before a crash."""
        self._backlog = True
        """Older messages may wait in the store (unknown at start, or a send was refused)."""
        self._confirming: asyncio.Task[None] | None = None
        self._closed = False
        self._rooms_open = True
        """Room messages may be handed over: the rooms we know as joined are joined on this
        stream (False from `stream_lost` until `flush(rooms=True)`)."""
        self._room_port = rooms
        """How room messages go out; without it (no group chats) they wait."""

    async def send(self, archive_id: int, message: Stanza) -> bool:
        """Hand a just-archived message (already in the store's outbox) to the stream, after
        any older pending ones.

        Returns:
            True when it left; False when the stream is down (it waits for the next connect).
        """
        crashpoints.crash_point(crashpoints.AFTER_SEND_COMMIT)
        if self._backlog:
            await self.flush(new_stream=False)
            return archive_id in self._handed
        async with self._sending:
            if archive_id in self._handed:
                return True  # a flush since its commit took it
            if isinstance(message, RoomOutbound) and not (
                self._rooms_open and self._in_room(message)
            ):
                return False  # waits in the store for the rejoin's flush
            left = await self._hand_over(archive_id, message)
        if left:
            self._confirm_soon()
        return left

    def stranded(self) -> None:
        """Messages were committed but not handed over (their send was given up): the next
        `send` flushes them first, so that nothing newer overtakes them."""
        self._backlog = True

    def stream_lost(self) -> None:
        """The stream broke: until the rooms are joined again (`flush(rooms=True)`) no room
        message goes out (a fresh session is in no room)."""
        self._rooms_open = False
        self._stale.update(self._handed)

    def stream_resumed(self) -> None:
        """The lost stream was resumed: what it took is its own again (it resends what the
        server's `h` did not count), to be confirmed by a ping on it."""
        self._stale -= self._handed.keys()

    async def flush(self, *, rooms: bool = False, new_stream: bool = True) -> int:
        """Send every pending message again, oldest first (after a reconnect, at start-up).

        Args:
            rooms: room messages too (we are in the rooms on this stream); else they wait.
            new_stream: the stream is a fresh session: what the last one took goes again,
                unless our archive shows the server has it. False after a resumption (the
                stream resends what the server did not count) and after the rooms were
                joined: only what this stream has not taken yet.

        Returns:
            How many were handed to the stream (0 when it is down again).
        """
        async with self._sending:
            if rooms:
                self._rooms_open = True
            if new_stream:  # what the old streams took is not confirmed
                for archive_id in self._stale:
                    self._handed.pop(archive_id, None)
            items = [
                item
                for item in await self._runner.read(lambda uow: uow.outbox.pending())
                if item.archive_id not in self._handed
            ]
            unsure = {
                item.archive_id
                for item in items
                if self._unsure_all or item.archive_id in self._stale
            }
            if unsure:
                checked = await self._not_archived(items, unsure)
                if checked is None:
                    self._backlog = True
                    return 0
                items = checked
                self._stale -= unsure
                self._unsure_all = False
            sent = await self._hand_over_all(items, rooms=rooms)
        if sent or self._handed:
            self._confirm_soon()
        return sent

    async def _not_archived(
        self, items: Sequence[OutboxItem], unsure: set[int]
    ) -> list[OutboxItem] | None:
        """The chat messages among the `unsure` of `items` that our archive already holds are
        confirmed (`MessageDelivered`); the others are returned (all of them when the archive
        cannot be asked; None when the stream is down: they wait for the next one). Room
        messages are not in our archive: they go again."""
        chats = {
            decoded.message_id: (item, decoded)
            for item, decoded in _decoded(items)
            if isinstance(decoded, Outbound) and item.archive_id in unsure
        }
        if self._archived is None or not chats:
            return list(items)
        since = min(item.queued_at for item, _ in chats.values()) - ARCHIVE_SLACK_MS
        try:
            held = await self._archived(list(chats), since)
        except NotConnected:
            return None
        except TransportError as error:
            log.info("our archive cannot tell what the server has; resending: %s", error)
            return list(items)
        found = {
            chats[message_id][0].archive_id: bare_jid(chats[message_id][1].to)
            for message_id in held
            if message_id in chats
        }
        if found:
            done = await self._runner.write(lambda uow: uow.outbox.confirmed(list(found)))
            log.info("%d unconfirmed messages are in our archive: not sent again", len(done))
            for archive_id in done:
                self._emit(MessageDelivered(archive_id, found[archive_id]))
        return [item for item in items if item.archive_id not in found]

    async def _hand_over_all(self, items: Sequence[OutboxItem], *, rooms: bool) -> int:
        sent = 0
        for item in items:
            try:
                message = decode(item.stanza)
            except (ValueError, KeyError, TypeError):
                log.warning(
                    "an outbox row of an unknown format stays (archive id %d)", item.archive_id
                )
                continue
            if isinstance(message, RoomOutbound) and not (
                self._rooms_open and rooms and self._in_room(message)
            ):
                continue  # waits for the room to be joined
            if not await self._hand_over(item.archive_id, message):
                return sent
            sent += 1
        self._backlog = False
        if sent:
            handed = list(self._handed)
            await self._runner.write(lambda uow: uow.outbox.attempted(handed))
        return sent

    def _with_chat_state(self, message: Stanza) -> Stanza:
        """`message` carrying the chat state its chat is in now (not kept in the store: a
        message sent again after a restart says what is true then)."""
        if self._chat_state is None:
            return message
        chat = message.room if isinstance(message, RoomOutbound) else message.to
        return replace(message, chat_state=self._chat_state(bare_jid(chat)))

    def _in_room(self, message: RoomOutbound) -> bool:
        return self._room_port is not None and self._room_port.joined(message.room)

    async def _hand_over(self, archive_id: int, message: Stanza) -> bool:
        message = self._with_chat_state(message)
        try:
            if isinstance(message, RoomOutbound):
                if self._room_port is None:
                    return False
                self._room_port.send(message)
                peer = message.room
            else:
                await self._transport.send(message)
                peer = message.to
        except TransportError as error:
            log.info("the stream is down; a message waits in the outbox: %s", error)
            self._backlog = True
            return False
        self._handed[archive_id] = bare_jid(peer)
        return True

    def _confirm_soon(self) -> None:
        """One background confirmation at a time (it covers everything handed before it)."""
        if not self._closed and (self._confirming is None or self._confirming.done()):
            self._confirming = asyncio.create_task(self._confirm_quietly())

    async def _confirm_quietly(self) -> None:
        await asyncio.sleep(CONFIRM_DELAY)
        try:
            await self.confirm(CONFIRM_TIMEOUT)
        except TransportError as error:
            log.info("pending messages stay in the outbox: %s", error)

    async def confirm(self, within: float) -> int:
        """Wait for the server to have every message handed over so far, then mark them sent.

        Returns:
            How many messages were confirmed.

        Raises:
            TransportError: no answer within `within` seconds (they stay pending).
        """
        handed = {
            archive_id: peer
            for archive_id, peer in self._handed.items()
            if archive_id not in self._stale
        }  # a ping on a new stream proves nothing
        if not handed:
            return 0
        if self._ping is not None:
            await self._ping(within)

        def forget(uow: UnitOfWork) -> list[int]:
            return uow.outbox.confirmed(handed)

        done = await self._runner.write(forget)
        for archive_id in handed:
            self._handed.pop(archive_id, None)
            self._stale.discard(archive_id)
        for archive_id in done:
            self._emit(MessageDelivered(archive_id, handed[archive_id]))
        return len(done)

    async def close(self) -> None:
        """Stop a confirmation under way (what it covered stays pending); none starts later."""
        self._closed = True
        task, self._confirming = self._confirming, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    @property
    def unconfirmed(self) -> int:
        """How many messages were handed to the stream and not confirmed yet."""
        return len(self._handed)
