"""The two conversation policies the pipelines are parametrised by: `direct` (1:1) and `room`.

The inbound pipeline (`service/inbound.py`) and the outbound one (`service/outbound.py`) are
the same for every conversation; what differs is small and lives here:

- who wrote a stanza and which chat it belongs to (`route`): the sender's bare JID in a 1:1
  chat; in a room, the occupant's real JID (from the room's presence, else the member whose
  device list holds the sending device), and nobody when the room does not say;
- the scope of the de-duplication keys (our archive's stanza-id, or the room's);
- what an unencrypted message means (a warning only where the chat or room is encrypted);
- whose SCE envelope it is (`to`: our JID or the contact in a 1:1 chat, the room in a room);
- the words of a failure, and what an undecryptable stanza becomes (a device not on its list
  keeps a 1:1 stanza in the inbox; in a room it is a failure row, and an archived room message
  that was not encrypted for this device predates it and is dropped);
- where the catch-up position moves (our archive's, or the room's);
- the follow-ups (1:1 failures may ask for a session repair and propagate network errors;
  room follow-ups tolerate them).

The outbound sides (recipients, the OMEMO gate, partial sends, the stanza built) are in
`service/outbound.py` (`DirectSend`, `RoomSend`), next to the pipeline that runs them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from tui_omemo.events import SecurityEventKind
from tui_omemo.model import Arrival, bare_jid
from tui_omemo.protocol.engine import Engine
from tui_omemo.service.link import CatchUpGap
from tui_omemo.service.ports import Envelope, Inbound
from tui_omemo.service.runner import DbRunner
from tui_omemo.service.trust import PendingEvent
from tui_omemo.store import Direction, UnitOfWork

LAST_STANZA_ID = "mam/last_stanza_id"
"""Settings key: the stanza-id of our archive where the next MAM catch-up starts."""


@dataclass(frozen=True, slots=True)
class Routing:
    """Who a stanza is from and which chat it belongs to.

    Attributes:
        sender: the author's bare JID.
        peer: the chat (the contact, or the room).
        direction: IN, or OUT for our own messages (carbons, reflections, archive copies).
        room: the room's bare JID (room conversations only).
        nick: the author's nickname there.
    """

    sender: str
    peer: str
    direction: Direction
    room: str | None = None
    nick: str | None = None


class Policy(Protocol):
    """What the inbound pipeline asks of a conversation kind."""

    stamped: str
    """The prefix of the stanza-id key stamped for us (`sid:` our archive, `rsid:` a room)."""
    keeps_unlisted: bool
    """A message from a device not on its owner's list stays in the inbox (else: a failure)."""
    repairs: bool
    """A message that fails in the protocol may ask for a session repair."""
    tolerant: bool
    """Follow-ups (republish, empty messages) tolerate network and protocol errors."""

    async def route(self, inbound: Inbound) -> Routing | PendingEvent:
        """The routing of a stanza, or the event to record when nobody can be named."""
        ...

    def stanza_key(self, routing: Routing, stanza_id: str) -> str:
        """The de-duplication key of the stanza-id stamped for us."""
        ...

    def scope(self, routing: Routing) -> str:
        """What prefixes the sender in the conversation-scoped keys (`mid:`, `plain:` …)."""
        ...

    async def plaintext_warning(self, routing: Routing) -> tuple[str, PendingEvent] | None:
        """The flag and security event of an unencrypted message, when the chat is encrypted."""
        ...

    def envelope_error(self, envelope: Envelope, routing: Routing, own: str) -> str | None:
        """Why an SCE envelope's `to` does not fit the conversation, or None."""
        ...

    def malformed_envelope(self, error: ValueError) -> str:
        """The failure reason of an envelope that does not parse."""
        ...

    def failure_text(self, routing: Routing, reason: str, *, empty: bool) -> str:
        """The security event's words for a message that could not be decrypted."""
        ...

    def drops_unaddressed(self, inbound: Inbound) -> bool:
        """Whether a message not encrypted for this device is dropped silently."""
        ...

    def advance(self, uow: UnitOfWork, inbound: Inbound) -> None:
        """Move the catch-up position past a processed stanza, when it should."""
        ...


class DirectPolicy:
    """1:1 chats: our own archive's stanza-ids, `to` is us (or the contact for our copies).

    Args:
        engine: our device (own JID, catch-up mode).
        runner: the DB thread (whether a chat is encrypted).
        archive_gap: while open, live messages must not move the catch-up start.
        encrypted_chat: reads whether a chat is encrypted (the peer has OMEMO devices and no
            plaintext choice), inside a unit of work.
    """

    stamped = "sid:"
    keeps_unlisted = True
    repairs = True
    tolerant = False

    def __init__(
        self,
        engine: Engine,
        runner: DbRunner,
        archive_gap: CatchUpGap,
        encrypted_chat: Callable[[UnitOfWork, str], bool],
    ) -> None:
        self._engine = engine
        self._runner = runner
        self.archive_gap = archive_gap
        self._encrypted_chat = encrypted_chat

    async def route(self, inbound: Inbound) -> Routing:
        """See `Policy.route`."""
        return self.routing(inbound)

    def routing(self, inbound: Inbound) -> Routing:
        """The routing of a 1:1 stanza (always known)."""
        sender = bare_jid(inbound.sender)
        if sender == self._engine.own_bare_jid:
            return Routing(sender, bare_jid(inbound.recipient), Direction.OUT)
        return Routing(sender, sender, Direction.IN)

    def stanza_key(self, routing: Routing, stanza_id: str) -> str:
        """See `Policy.stanza_key`."""
        return f"sid:{self._engine.own_bare_jid}:{stanza_id}"

    def scope(self, routing: Routing) -> str:
        """See `Policy.scope`."""
        return ""

    async def plaintext_warning(self, routing: Routing) -> tuple[str, PendingEvent] | None:
        """Plaintext from a contact who never used OMEMO is only marked unencrypted, without
        a security event per message."""
        if routing.direction is not Direction.IN:
            return None
        peer = routing.peer
        if not await self._runner.read(lambda uow: self._encrypted_chat(uow, peer)):
            return None
        return "unencrypted message in an encrypted chat", PendingEvent(
            SecurityEventKind.PLAINTEXT_IN_ENCRYPTED_CHAT,
            peer,
            None,
            f"{routing.sender} sent an unencrypted message in an encrypted chat",
        )

    def envelope_error(self, envelope: Envelope, routing: Routing, own: str) -> str | None:
        """`to`, when present, is the chat's other side."""
        expected_to = routing.peer if routing.direction is Direction.OUT else own
        if envelope.to is not None and bare_jid(envelope.to) != expected_to:
            return "the encrypted envelope was addressed to someone else"
        return None

    def malformed_envelope(self, error: ValueError) -> str:
        """See `Policy.malformed_envelope`."""
        return str(error)

    def failure_text(self, routing: Routing, reason: str, *, empty: bool) -> str:
        """See `Policy.failure_text`."""
        what = "an empty OMEMO message" if empty else "a message"
        return f"{what} from {routing.sender} could not be decrypted: {reason}"

    def drops_unaddressed(self, inbound: Inbound) -> bool:
        """Only empty messages (key transport for another device of ours)."""
        return False

    def advance(self, uow: UnitOfWork, inbound: Inbound) -> None:
        """Move the MAM catch-up start past a live/offline message (not while catching up,
        when `history.CatchUp` moves it page by page, nor while a lost stream may have left
        a gap before it)."""
        if (
            inbound.stanza_id
            and inbound.arrival is not Arrival.MAM
            and not self._engine.catching_up
            and not self.archive_gap.open
        ):
            uow.settings.set(LAST_STANZA_ID, inbound.stanza_id)


class RoomMembers(Protocol):
    """What the room policy needs from the rooms module."""

    def sender(self, room: str, nick: str, inbound: Inbound) -> Awaitable[str | None]:
        """The real bare JID behind `room/nick`, or None when nobody can be named."""
        ...

    def encrypted_room(self, room: str) -> bool:
        """Whether `room` is joined and qualifies for OMEMO."""
        ...

    def advance_room(self, uow: UnitOfWork, room: str, stanza_id: str) -> None:
        """Store the room archive position after `stanza_id`."""
        ...


class RoomPolicy:
    """Room conversations (XEP-0045): the room's stanza-ids, the SCE `to` is the room.

    Args:
        engine: our device (own JID, catch-up mode).
        members: the rooms module (senders, the gate, archive positions).
    """

    stamped = "rsid:"
    keeps_unlisted = False
    repairs = False
    tolerant = True

    def __init__(self, engine: Engine, members: RoomMembers) -> None:
        self._engine = engine
        self._members = members

    async def route(self, inbound: Inbound) -> Routing | PendingEvent:
        """See `Policy.route`: the occupant's real JID."""
        room, _, nick = inbound.sender.partition("/")
        room = bare_jid(room)
        sender = await self._members.sender(room, nick, inbound)
        if sender is None:
            return PendingEvent(
                SecurityEventKind.DECRYPTION_FAILED,
                room,
                None,
                f"a message from {nick!r} in {room} was dropped: the room did not tell us "
                "who sent it",
            )
        own = sender == self._engine.own_bare_jid
        return Routing(sender, room, Direction.OUT if own else Direction.IN, room, nick or None)

    def stanza_key(self, routing: Routing, stanza_id: str) -> str:
        """Stamped by the room (live and archived copies alike)."""
        return f"rsid:{routing.room}:{stanza_id}"

    def scope(self, routing: Routing) -> str:
        """See `Policy.scope`."""
        return f"{routing.room}:"

    async def plaintext_warning(self, routing: Routing) -> tuple[str, PendingEvent] | None:
        """Plaintext from someone else in a room that qualifies for OMEMO."""
        room = routing.peer
        if routing.sender == self._engine.own_bare_jid or not self._members.encrypted_room(room):
            return None
        return "unencrypted message in an encrypted room", PendingEvent(
            SecurityEventKind.PLAINTEXT_IN_ENCRYPTED_CHAT,
            room,
            None,
            f"{routing.sender} ({routing.nick or ''}) sent an unencrypted message in {room}",
        )

    def envelope_error(self, envelope: Envelope, routing: Routing, own: str) -> str | None:
        """`to` must be the room (OMEMO-WIRE.md §4.3 step 6)."""
        if envelope.to is None or bare_jid(envelope.to) != routing.room:
            return "the encrypted envelope was not addressed to this room"
        return None

    def malformed_envelope(self, error: ValueError) -> str:
        """See `Policy.malformed_envelope`."""
        return f"the encrypted envelope is malformed: {error}"

    def failure_text(self, routing: Routing, reason: str, *, empty: bool) -> str:
        """See `Policy.failure_text` (the same words for empty messages)."""
        return (
            f"a message from {routing.sender} ({routing.nick or ''}) in {routing.room} "
            f"could not be decrypted: {reason}"
        )

    def drops_unaddressed(self, inbound: Inbound) -> bool:
        """An archived room message sent before this device existed."""
        return inbound.arrival is Arrival.MAM

    def advance(self, uow: UnitOfWork, inbound: Inbound) -> None:
        """A live message carries the room's stanza-id: the next catch-up of the room starts
        after it (not while catching up, when the rooms module moves it page by page)."""
        if inbound.arrival.wrapped or not inbound.stanza_id or self._engine.catching_up:
            return
        self._members.advance_room(
            uow, bare_jid(inbound.sender.partition("/")[0]), inbound.stanza_id
        )
