"""The outbound pipeline, one for every conversation (DESIGN.md §3.4–3.5).

text → choose devices → encrypt (nothing written) → ONE unit of work (the advanced sending
chains, our archived plaintext, the outbox row) → outbox → transport. What differs between a
1:1 chat and a room is a small send policy: `DirectSend` (the contact's and our own other
devices, each in a version it publishes; the SCE `to` is the contact) and `RoomSend`
(`service/room_send.py`: every member of the member list; the SCE `to` is the room; a member
left without any key blocks the send unless the user chose "everyone with keys"). With no
usable recipient nothing leaves (`SendFailed`); plaintext goes out only by an explicit,
remembered choice (`send_plain`).

Sends that wait for the engine lock together go as one group: one read trip (sessions and
stored trust of the listed devices of 1:1 sends), each message encrypted on the state the
previous one staged (`state.Staging`), ONE unit of work for all their archive and outbox rows
and the final state, then the stanzas in order; each caller gets its own report or
`SendFailed`.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from tui_omemo.model import DeviceRef, Namespace, ReplyRef, TrustLevel
from tui_omemo.protocol.engine import Engine, TrustDecider
from tui_omemo.protocol.errors import ProtocolError
from tui_omemo.protocol.ports import StateChanges
from tui_omemo.protocol.results import SkipReason
from tui_omemo.protocol.session import session_key
from tui_omemo.service.api import SendFailed, SendReport, SkippedDevice
from tui_omemo.service.clock import new_message_id, now_ms
from tui_omemo.service.corrections import Correction, correction_flags, replaced
from tui_omemo.service.directory import CachingDirectory
from tui_omemo.service.messages import BODY_HINT, SKIP_WORDS, sent_message
from tui_omemo.service.outbox import Outbox, RoomOutbound, Stanza, archive_pending
from tui_omemo.service.parts import PipelineComponent, PipelineParts
from tui_omemo.service.ports import Outbound, TransportError
from tui_omemo.service.replies import received
from tui_omemo.service.state import (
    KnownTrust,
    Staging,
    apply_state_changes,
    read_ahead,
    read_known_trust,
)
from tui_omemo.service.trust import PendingEvent, decider
from tui_omemo.service.upkeep import Upkeep
from tui_omemo.service.versions import encrypt_per_device, other_version
from tui_omemo.store import Direction, NewMessage, UnitOfWork

SEND_GROUP = 32
"""At most this many waiting sends are encrypted in turn and committed as one unit of work."""


@dataclass(frozen=True, slots=True)
class Encrypted:
    """One message of a send group, encrypted, not committed yet.

    Attributes:
        message: our archive row.
        stanza: what the outbox sends.
        report: its caller's report, still without an archive id.
        changes: the OMEMO state it advanced.
    """

    message: NewMessage
    stanza: Stanza
    report: SendReport
    changes: StateChanges


class Send(Protocol):
    """A conversation's send policy (see the module docstring)."""

    @property
    def peer(self) -> str:
        """The contact or the room."""
        ...

    @property
    def namespace(self) -> Namespace:
        """The headline OMEMO version."""
        ...

    def read_ahead(self) -> bool:
        """Whether the group reads this conversation's sessions and trust ahead."""
        ...

    async def encrypt(
        self, out: OutboundPipeline, text: str, message_id: str, trust: Trust
    ) -> Encrypted:
        """Encrypt `text` (nothing is committed).

        Raises:
            SendFailed: nothing can be sent.
        """
        ...


@dataclass(frozen=True, slots=True)
class Trust:
    """A group's trust decider and the own devices it skipped as stale."""

    decide: TrustDecider
    stale: set[DeviceRef]


class _GroupStage(enum.Enum):
    """How far a send group got (what its unanswered requests become if it is given up)."""

    ENCRYPTING = "encrypting"  # nothing committed: back to the queue
    COMMITTING = "committing"  # the unit of work may be committed: reported queued
    HANDING_OVER = "handing over"  # committed: reported queued
    DONE = "done"  # every request was answered


@dataclass(slots=True, eq=False)
class _SendRequest:
    """One send waiting for a send group.

    Attributes:
        reply: its report or `SendFailed`; cancelled when the caller gave up first.
        taken: a group holds it (until then its caller may withdraw it).
    """

    send: Send
    text: str
    reply: asyncio.Future[SendReport]
    message_id: str = field(default_factory=new_message_id)
    taken: bool = False
    done: Encrypted | None = None


def _resolve(request: _SendRequest, report: SendReport) -> None:
    if not request.reply.done():
        request.reply.set_result(report)


def _reject(request: _SendRequest, error: BaseException) -> None:
    if not request.reply.done():
        request.reply.set_exception(error)


def our_message(out: OutboundPipeline, peer: str, text: str, message_id: str) -> NewMessage:
    """Our archive row of a sent message, before its encryption details."""
    now = now_ms()
    return NewMessage(
        peer=peer,
        direction=Direction.OUT,
        sender_bare_jid=out.own,
        body=text,
        timestamp=now,
        received_at=now,
        dedupe_keys=(f"oid:{out.own}:{message_id}",),
        origin_id=message_id,
        message_id=message_id,
    )


@dataclass(frozen=True, slots=True)
class DirectSend:
    """A 1:1 send: every trusted device of the contact and our own other devices, each in a
    version it publishes (or all in the `forced` one)."""

    peer: str
    namespace: Namespace
    forced: Namespace | None = None
    correction: Correction | None = None
    reply: ReplyRef | None = None  # XEP-0461: `text` starts with its quoted fallback

    def read_ahead(self) -> bool:
        """1:1 sends read their sessions and trust ahead."""
        return True

    async def encrypt(
        self, out: OutboundPipeline, text: str, message_id: str, trust: Trust
    ) -> Encrypted:
        """See `Send.encrypt`."""
        peer, namespace, forced = self.peer, self.namespace, self.forced
        try:
            payload = out.payload(peer, text, replaced(self.correction), self.reply)
            result = await encrypt_per_device(
                out.engine, out.directory, peer, payload, trust.decide, forced
            )
        except (ProtocolError, TransportError) as error:
            raise SendFailed(
                f"encryption failed, nothing was sent: {error}", SendReport(None, namespace)
            ) from error
        skipped = self._skipped(result.skipped, trust.stale)
        if not any(device.bare_jid == peer for device in result.recipients):
            raise SendFailed(
                f"no trusted device of {peer} can receive the message; nothing was sent",
                SendReport(None, namespace, skipped),
            )
        versions = result.namespaces
        shown, flags = received(text, self.reply)  # our copy shows the text without the quote
        flags |= {"recipients": len(result.recipients), **correction_flags(self.correction)}
        if len(versions) > 1:
            flags["versions"] = [each.label for each in versions]
        message = replace(
            our_message(out, peer, shown, message_id),
            sender_device=out.engine.device_id,
            trust=TrustLevel.VERIFIED,
            omemo_version=versions[0].label,
            flags=flags,
        )
        elements = [each.element for each in result.results]
        also, replaces = elements[1] if len(elements) > 1 else None, replaced(self.correction)
        stanza = Outbound(peer, message_id, elements[0], out.hint(), also, replaces, self.reply)
        report = SendReport(None, versions[0], skipped, versions)
        return Encrypted(message, stanza, report, result.changes())

    def _skipped(
        self, skipped: Mapping[DeviceRef, SkipReason], stale: set[DeviceRef]
    ) -> tuple[SkippedDevice, ...]:
        """The report's skipped devices (stale own ones apart, the other version's named)."""
        rows = []
        for device, reason in skipped.items():
            code = SkipReason.STALE if device in stale else reason
            words = SKIP_WORDS[code]
            if code is SkipReason.OTHER_VERSION and self.forced is not None:
                words = (
                    f"publishes only OMEMO {other_version(self.forced).label} "
                    f"(this chat is set to OMEMO {self.forced.label})"
                )
            rows.append(SkippedDevice(device.bare_jid, device.device_id or None, words, code.value))
        return tuple(rows)


class OutboundPipeline(PipelineComponent):
    """Sends → encryptions → one unit of work → outbox, for every conversation.

    Args:
        parts: what the pipeline's components share (`service/parts.py`; the engine's state
            store reads `staging` first).
        staging: the unit of work being assembled, shared with the engine's state store.
        upkeep: emits the security events a send recorded.
        outbox: our messages the server has not confirmed.
    """

    def __init__(
        self, parts: PipelineParts, staging: Staging, upkeep: Upkeep, outbox: Outbox
    ) -> None:
        super().__init__(parts)
        self._staging = staging
        self._upkeep = upkeep
        self.outbox = outbox
        self._waiting: list[_SendRequest] = []
        """Sends waiting for the next send group, oldest first."""

    @property
    def engine(self) -> Engine:
        """Our device's engine (what a `Send` encrypts with)."""
        return self._engine

    @property
    def directory(self) -> CachingDirectory:
        """Device lists and bundles (what a `Send` fetches through)."""
        return self._directory

    @property
    def own(self) -> str:
        """Our bare JID."""
        return self.engine.own_bare_jid

    def hint(self) -> str | None:
        """The body for clients without OMEMO, when the settings want one."""
        return BODY_HINT if self._settings().add_body_hint else None

    def payload(
        self, to: str, text: str, replaces: str | None, reply: ReplyRef | None = None
    ) -> Callable[[Namespace], bytes]:
        """Plaintext per version: 0.3 the body (`<replace>`, `<reply>` outside), 2 an envelope."""

        def payload(namespace: Namespace) -> bytes:
            if namespace is Namespace.LEGACY:
                return text.encode("utf-8")
            return self._transport.build_envelope(text, to, self.own, replaces, reply)

        return payload

    # --- plaintext ----------------------------------------------------------------------

    async def send_plain(self, peer: str, text: str, room_nick: str | None = None) -> SendReport:
        """The explicitly chosen unencrypted send (to a room when `room_nick` is given)."""
        message_id = new_message_id()
        message = replace(
            our_message(self, peer, text, message_id), flags={"plaintext_chosen": True}
        )
        stanza: Stanza
        if room_nick is None:
            stanza = Outbound(peer, message_id, None, text)
        else:
            message = replace(message, room=peer, nick=room_nick)
            stanza = RoomOutbound(peer, message_id, None, text)
        archive_id = await self._runner.write(lambda uow: archive_pending(uow, message, stanza))
        self._emit(sent_message(archive_id, message))
        left = await self.outbox.send(archive_id, stanza)
        return SendReport(archive_id, None, queued=not left)

    # --- encrypted: send groups ---------------------------------------------------------

    async def send(self, send: Send, text: str) -> SendReport:
        """Queue one message for the next send group and wait for its report: the first
        caller to get the engine lock sends every message waiting then (`_send_group`).

        Raises:
            SendFailed: nothing was sent; the report says who was skipped and why.
        """
        request = _SendRequest(send, text, asyncio.get_running_loop().create_future())
        self._waiting.append(request)
        try:
            async with self._lock:
                while not request.taken:  # more than a group may wait before it
                    await self._send_group(self._take_group())
        except BaseException:
            if not request.taken:
                self._waiting.remove(request)  # given up before any group took it
            elif not request.reply.done():
                request.reply.cancel()  # a group that did not encrypt it yet skips it
            raise
        return await request.reply

    def _take_group(self) -> list[_SendRequest]:
        """The waiting sends, oldest first, at most `SEND_GROUP` of them."""
        group, self._waiting = self._waiting[:SEND_GROUP], self._waiting[SEND_GROUP:]
        for request in group:
            request.taken = True
        return group

    async def _send_group(self, group: list[_SendRequest]) -> None:
        """Encrypt the `group` one message after the other (each sees the state the ones
        before it staged), commit every archive row, outbox row and the final state in ONE
        unit of work, then hand the stanzas over in order; each request gets its own report
        or `SendFailed`. The engine lock is held.

        When the unit of work fails, each message is sent again in a group of its own (nothing
        was committed). A group given up before its commit puts its other requests back at
        the head of the queue; after it, they are reported queued (the outbox sends them
        before anything newer)."""
        encrypted: list[_SendRequest] = []
        stage = _GroupStage.ENCRYPTING
        events: list[PendingEvent] = []
        try:
            known, ahead = await self._read_ahead(group)
            decide, events, stale = decider(self._runner, self._settings(), self.own, known)
            with self._staging.hold(StateChanges(), ahead) as staged:
                encrypted = await self._encrypt_group(group, Trust(decide, stale), staged)
                stage = _GroupStage.COMMITTING
                archive_ids = await self._commit_group(encrypted, staged)
            stage = _GroupStage.HANDING_OVER
            done = [
                (request, request.done, archive_id)
                for request, archive_id in zip(encrypted, archive_ids, strict=True)
                if request.done is not None
            ]
            for _request, one, archive_id in done:
                self._emit(sent_message(archive_id, one.message))
            for request, one, archive_id in done:
                left = await self.outbox.send(archive_id, one.stanza)
                _resolve(request, replace(one.report, archive_id=archive_id, queued=not left))
            stage = _GroupStage.DONE
        except Exception as error:
            if stage is not _GroupStage.COMMITTING:
                raise
            stage = _GroupStage.DONE  # nothing was committed
            await self._send_one_by_one(encrypted, error)
        finally:
            self._upkeep.emit_events(events)
            self._settle(group, encrypted, stage)

    async def _send_one_by_one(self, encrypted: list[_SendRequest], error: Exception) -> None:
        """After a failed unit of work: a single message gets its error, several are each
        sent again in a group of their own."""
        if len(encrypted) == 1:
            _reject(encrypted[0], error)
            return
        for request in encrypted:
            try:
                await self._send_group([request])
            except Exception as again:  # that message's failure only
                _reject(request, again)

    def _settle(
        self, group: list[_SendRequest], encrypted: list[_SendRequest], stage: _GroupStage
    ) -> None:
        """After a group: requests left without an answer (the group was given up) go back
        to the queue if nothing of them was committed, else are reported queued."""
        unanswered = [request for request in group if not request.reply.done()]
        if not unanswered or stage is _GroupStage.DONE:
            return
        if stage is _GroupStage.ENCRYPTING:
            for request in unanswered:
                request.taken = False
                request.done = None
            self._waiting[:0] = unanswered
            return
        self.outbox.stranded()
        for request in encrypted:
            if request.done is not None:
                _resolve(request, replace(request.done.report, queued=True))

    async def _encrypt_group(
        self, group: list[_SendRequest], trust: Trust, staged: StateChanges
    ) -> list[_SendRequest]:
        """Encrypt each message still wanted, staging its state for the next; a message that
        fails gets its `SendFailed` (or error) and stages nothing."""
        encrypted: list[_SendRequest] = []
        for request in group:
            if request.reply.done():
                continue  # its caller gave up
            try:
                one = await request.send.encrypt(self, request.text, request.message_id, trust)
            except Exception as error:  # this message's failure only
                _reject(request, error)
                continue
            staged.merge(one.changes)
            request.done = one
            encrypted.append(request)
            await asyncio.sleep(0)  # a long group must not be one long loop step
        return encrypted

    async def _commit_group(
        self, encrypted: list[_SendRequest], changes: StateChanges
    ) -> list[int]:
        """ONE unit of work: the group's final OMEMO state and every message's archive and
        outbox rows, in order. Returns the archive ids."""
        done = [request.done for request in encrypted if request.done is not None]
        if not done:
            return []

        def commit(uow: UnitOfWork) -> list[int]:
            apply_state_changes(uow, changes)
            return [archive_pending(uow, one.message, one.stanza) for one in done]

        return await self._runner.write(commit)

    async def _read_ahead(
        self, group: Sequence[_SendRequest]
    ) -> tuple[KnownTrust, dict[str, str | None]]:
        """Read, in ONE trip to the DB thread, our sessions with the listed devices of the
        group's 1:1 contacts and our own (a device's headline version, else the other one)
        and the trust stored for them (our own device records when we have other devices or
        a room send is in the group: stale-device detection). The lists are the ones the
        encryption uses (cached by the directory)."""
        keys: list[str] = []
        wanted = [request.send for request in group if request.send.read_ahead()]
        jids = dict.fromkeys(send.peer for send in wanted)
        for send in wanted:
            for jid in (send.peer, self.own):
                listed = await self._listed(send.namespace, jid)
                keys += [
                    session_key(namespace, DeviceRef(jid, device_id))
                    for namespace, device_id in listed
                ]
                if jid == self.own and listed:
                    jids[jid] = None
        # a room send decides from the store, but a level it remembered is judged from here
        rooms = any(not request.send.read_ahead() for request in group)
        own_read = self.own in jids or rooms
        own = self.own if own_read and self._settings().ignore_stale_devices else None
        if not keys and not jids and own is None:
            return KnownTrust(), {}  # nothing to read: no trip

        def read(uow: UnitOfWork) -> tuple[KnownTrust, dict[str, str | None]]:
            return read_known_trust(uow, jids, own), read_ahead(uow, dict.fromkeys(keys))

        return await self._runner.read(read)

    async def _listed(self, namespace: Namespace, jid: str) -> list[tuple[Namespace, int]]:
        """The devices of `jid` a message may encrypt for, with the version each likely gets:
        those on its `namespace` list, then those only on the other one; never this device.
        Empty when a list cannot be fetched (the encryption fetches again and reports it)."""
        try:
            first = (await self.directory.fetch_device_list(namespace, jid)).device_ids
            other = (
                await self.directory.fetch_device_list(other_version(namespace), jid)
            ).device_ids
        except TransportError:
            return []
        listed = [(namespace, device_id) for device_id in sorted(first)]
        listed += [(other_version(namespace), device_id) for device_id in sorted(other - first)]
        own = self.engine.own_device
        return [(ns, device_id) for ns, device_id in listed if DeviceRef(jid, device_id) != own]
