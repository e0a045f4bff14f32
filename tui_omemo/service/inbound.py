"""The inbound pipeline, one for every conversation (DESIGN.md §3.1–3.3).

stanza → inbox (still ciphertext) → dedupe → decrypt (the engine works on copies) → ONE unit
of work → events. A conversation policy (`service/conversation.py`: `direct` or `room`) says
who wrote a stanza and which chat it belongs to, the scope of its de-duplication keys, whose
SCE envelope it must be and where the catch-up position moves; everything else is here, once.

Stanzas that arrive together (queued while the worker was busy, a MAM page, inbox rows at
start-up) go through as one batch: every decryption is staged (`state.Staging`, handed to the
state store the engine reads through, so the next decryption reads it) and the whole batch is
ONE unit of work with the engine's state changes, the archive rows with the plaintext, their
dedupe keys, trust records, the devices' `last_message` and the inbox deletions. A crash
leaves all of it in the inbox or all of it committed; a batch that fails is retried stanza by
stanza. A failed decryption commits only a failure row (no plaintext, no state) and a
security event. Events, empty messages, republishing and repairs follow the commit.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from tui_omemo.events import SecurityEventKind
from tui_omemo.model import DeviceRef, Namespace, TrustLevel, bare_jid
from tui_omemo.protocol.elements import EncryptedElement
from tui_omemo.protocol.engine import DecryptResult
from tui_omemo.protocol.errors import Duplicate, NotForThisDevice, ProtocolError
from tui_omemo.protocol.session import session_key
from tui_omemo.protocol.trust import TrustMode
from tui_omemo.service import crashpoints
from tui_omemo.service.api import MessageReceived, MessageSent
from tui_omemo.service.batch import Batch, Committed, follow_ups
from tui_omemo.service.clock import now_ms
from tui_omemo.service.conversation import Policy, Routing
from tui_omemo.service.corrections import archive_correction, corrected_id
from tui_omemo.service.failures import failure_keys
from tui_omemo.service.held import HeldStanzas
from tui_omemo.service.messages import to_chat_message
from tui_omemo.service.parts import PipelineComponent, PipelineParts
from tui_omemo.service.ports import Inbound, TransportError
from tui_omemo.service.receipts import answer, request_flags
from tui_omemo.service.replies import received
from tui_omemo.service.room_ids import learn, own_copies
from tui_omemo.service.state import Staging, read_ahead
from tui_omemo.service.trust import (
    PendingEvent,
    message_trust,
    observe_identity,
    record_event,
    stored_trust_for_mark,
)
from tui_omemo.service.upkeep import Upkeep
from tui_omemo.store import ArchivedMessage, Direction, NewMessage, UnitOfWork

log = logging.getLogger(__name__)


def for_device(inbound: Inbound, device_id: int) -> Inbound:
    """`inbound` with one `<encrypted>` left: of a stanza carrying both versions, the one that
    holds a key for `device_id` (OMEMO 2 when both or neither do)."""
    also, encrypted = inbound.also, inbound.encrypted
    if also is None:
        return inbound
    if encrypted is None or (
        encrypted.key_for(device_id) is None and also.key_for(device_id) is not None
    ):
        encrypted = also
    return replace(inbound, encrypted=encrypted, also=None)


def has_content(inbound: Inbound) -> bool:
    """Whether a stanza carries anything to archive (an `<encrypted>`, even a malformed one,
    or a body)."""
    return inbound.encrypted is not None or inbound.malformed is not None or bool(inbound.body)


def _key_digest(element: EncryptedElement, device_id: int) -> str | None:
    key = element.key_for(device_id)
    if key is None:
        return None
    return hashlib.sha256(key.data).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Item:
    """One inbox row on its way through the pipeline, with its conversation's policy."""

    inbox_id: int
    inbound: Inbound
    attempts: int
    routing: Routing
    keys: tuple[str, ...]  # its dedupe keys
    policy: Policy


class InboundPipeline(PipelineComponent):
    """Inbox rows → decryptions → one unit of work → events, for every conversation.

    Args:
        parts: what the pipeline's components share (`service/parts.py`): the transport for
            SCE envelopes, the engine (its state store reads `staging` first), the DB thread,
            the device lists (a device must be listed to be decrypted from), the settings,
            the event sink, and the engine lock (held around every engine operation and its
            commit).
        staging: the unit of work being assembled, shared with the engine's state store.
        upkeep: the follow-ups (republish, empty messages, repairs).
    """

    def __init__(self, parts: PipelineParts, staging: Staging, upkeep: Upkeep) -> None:
        super().__init__(parts)
        self._staging = staging
        self._upkeep = upkeep
        self.unread: dict[str, int] = {}
        """Messages received per chat since it was last read (1:1 and rooms)."""
        self.held = HeldStanzas()
        """The devices whose 1:1 stanzas wait in the inbox for their list (`service/held.py`)."""
        self.after_commit: Callable[[set[str]], Awaitable[None]] | None = None
        """Awaited with the chats of each committed batch (`ReadElsewhere.retry`)."""

    @property
    def own(self) -> str:
        """Our bare JID."""
        return self._engine.own_bare_jid

    # --- entry --------------------------------------------------------------------------

    def item(
        self, policy: Policy, inbox_id: int, inbound: Inbound, attempts: int, routing: Routing
    ) -> Item:
        """An inbox row ready for the pipeline (its dedupe keys computed)."""
        return Item(
            inbox_id, inbound, attempts, routing, self.dedupe_keys(policy, inbound, routing), policy
        )

    async def keep(
        self, policy: Policy, routed: Sequence[tuple[Inbound, Routing]]
    ) -> tuple[list[Item], dict[str, str | None]]:
        """Write the new stanzas to the inbox in ONE unit of work (an already known one is
        not written), reading ahead the senders' sessions for their decryptions. The engine
        lock is held.

        Returns:
            The rows written, and the state read ahead (for `process_locked`).
        """
        keyed = [
            (inbound, routing, self.dedupe_keys(policy, inbound, routing))
            for inbound, routing in routed
        ]
        received = now_ms()
        sessions = [
            session_key(
                inbound.encrypted.namespace,
                DeviceRef(routing.sender, inbound.encrypted.sender_device_id),
            )
            for inbound, routing in routed
            if inbound.encrypted is not None
        ]

        def keep(uow: UnitOfWork) -> tuple[list[int | None], dict[str, str | None]]:
            ids = [
                None
                if keys and uow.dedupe.seen(keys) is not None  # serialised off the loop
                else uow.inbox.add(inbound.to_bytes(), inbound.arrival, received)
                for inbound, _routing, keys in keyed
            ]
            return ids, read_ahead(uow, sessions)

        inbox_ids, ahead = await self._runner.write(keep)
        items = [
            Item(inbox_id, inbound, 0, routing, keys, policy)
            for inbox_id, (inbound, routing, keys) in zip(inbox_ids, keyed, strict=True)
            if inbox_id is not None
        ]
        return items, ahead

    async def store(self, inbound: Inbound) -> int:
        """Write one stanza to the inbox as it is (no dedupe yet); its row id."""
        return (await self.store_all([inbound]))[0]

    async def store_all(self, inbounds: Sequence[Inbound]) -> list[int]:
        """Write stanzas to the inbox as they are (no dedupe yet), in ONE unit of work; their
        row ids, in order."""
        rows = [(inbound.to_bytes(), inbound.arrival) for inbound in inbounds]
        if not rows:
            return []
        received = now_ms()
        return await self._runner.write(
            lambda uow: [uow.inbox.add(raw, source, received) for raw, source in rows]
        )

    async def process_all(self, items: Sequence[Item], dropped: Sequence[int] = ()) -> None:
        """Process rows already in the inbox (the known ones and `dropped` are deleted) as
        one unit of work."""
        async with self._lock:
            known = await self._runner.read(
                lambda uow: [uow.dedupe.seen(item.keys) if item.keys else None for item in items]
            )
            fresh = [item for item, seen in zip(items, known, strict=True) if seen is None]
            gone = [
                *dropped,
                *(item.inbox_id for item, seen in zip(items, known, strict=True) if seen),
            ]
            await self._learn_stanza_ids(items, known)
            await self.process_locked(fresh, gone)

    async def _learn_stanza_ids(self, items: Sequence[Item], known: Sequence[int | None]) -> None:
        """Known copies of our own room messages teach their rows the room's stanza-id
        (`service/room_ids.py`)."""
        copies = zip(known, (i.inbound for i in items), (i.routing for i in items), strict=True)
        learnt = own_copies(copies, self.own)
        for row in await self._runner.write(lambda uow: learn(uow, learnt)) if learnt else ():
            self._emit(MessageSent(to_chat_message(row)))

    async def unroutable(self, inbox_id: int, event: PendingEvent) -> None:
        """Delete an inbox row whose sender nobody can name, with a security event."""
        now = now_ms()

        def commit(uow: UnitOfWork) -> PendingEvent:
            uow.inbox.delete(inbox_id)
            return record_event(uow, event, now)

        self._upkeep.emit_events((await self._runner.write(commit),))

    async def security_event(self, event: PendingEvent) -> None:
        """Record and emit a security event of its own (a rejected path)."""
        recorded = await self._runner.write(lambda uow: record_event(uow, event, now_ms()))
        self._upkeep.emit_events((recorded,))

    # --- one unit of work ---------------------------------------------------------------

    async def process_locked(
        self,
        items: Sequence[Item],
        dropped: Sequence[int] = (),
        *,
        ahead: Mapping[str, str | None] | None = None,
    ) -> None:
        """Decrypt `items` and commit them (and the deletion of `dropped`) in ONE unit of work,
        then emit and follow up; the engine lock is held (`ahead`: state rows read under it).
        When the batch cannot be assembled or committed, each stanza is tried in a unit of
        work of its own, so one bad stanza does not hold up the others (nothing of the
        failed batch was committed)."""
        if not items and not dropped:
            return
        try:
            batch, committed = await self._commit_batch(items, dropped, ahead or {})
        except Exception:
            if len(items) <= 1:
                raise
            await self._one_by_one(items, dropped)
            return
        crashpoints.crash_point(crashpoints.AFTER_COMMIT)
        await self._after_batch(batch, committed)

    async def _one_by_one(self, items: Sequence[Item], dropped: Sequence[int]) -> None:
        if dropped:
            await self._runner.write(lambda uow: [uow.inbox.delete(row) for row in dropped])
        for item in items:
            try:
                await self.process_locked((item,))  # its rows are read again
            except Exception as error:  # left in the inbox for the next start
                log.warning("an incoming stanza stays in the inbox: %s", type(error).__name__)

    async def _commit_batch(
        self, items: Sequence[Item], dropped: Sequence[int], ahead: Mapping[str, str | None]
    ) -> tuple[Batch, list[Committed]]:
        """Assemble the unit of work (each decryption reads the state staged by the ones
        before it) and commit it; the staging is emptied whatever happens. The loop gets a
        turn after every stanza: a decryption that finds everything staged never suspends,
        and a MAM page must not become one long loop step (DESIGN.md §6)."""
        batch = Batch(tolerant=bool(items) and all(item.policy.tolerant for item in items))
        for inbox_id in dropped:
            batch.drop(inbox_id)
        with self._staging.hold(batch.state, ahead):
            for item in items:
                await self._take(item, batch)
                await asyncio.sleep(0)
            committed = await self._runner.write(batch.commit)
        return batch, committed

    async def _take(self, item: Item, batch: Batch) -> None:
        """Add one stanza's outcome to the batch (a copy of one already in it is dropped)."""
        if batch.knows(item.keys):
            batch.drop(item.inbox_id)
        elif item.inbound.encrypted is None:
            await self._plain_or_malformed(item, batch)
        else:
            await self._encrypted(item, item.inbound.encrypted, batch)

    async def _after_batch(self, batch: Batch, committed: Sequence[Committed]) -> None:
        """Emit what the committed unit of work produced, then answer key exchanges and
        heartbeats (one empty message per device), republish a bundle whose prekey was used
        (once per namespace) and run the optional repairs. Unless the batch is tolerant, the
        first follow-up failure is raised once every follow-up had its turn."""
        for outcome in committed:
            self._after_commit(outcome.row, outcome.events)
        failure: Exception | None = None
        for result in follow_ups(batch.decrypted):
            try:
                await self._upkeep.after_decrypt(result, tolerant=batch.tolerant)
            except (TransportError, ProtocolError) as error:
                failure = failure or error
        for device, namespace in batch.repairs:
            await self._upkeep.maybe_repair(device, namespace)
        chats = {outcome.row.peer for outcome in committed if outcome.row is not None}
        if self.after_commit is not None and chats:
            await self.after_commit(chats)
        if failure is not None:
            raise failure

    def _after_commit(self, row: ArchivedMessage | None, events: Iterable[PendingEvent]) -> None:
        """Emit what a committed unit of work produced (the row was read inside it)."""
        self._upkeep.emit_events(tuple(events))
        if row is None:
            return
        if row.direction is Direction.IN and corrected_id(row.flags) is None:  # not an edit
            self.unread[row.peer] = self.unread.get(row.peer, 0) + 1
        self._emit(MessageReceived(to_chat_message(row)))
        answer(self._transport, row)  # a receipt only now: the message is archived

    # --- one stanza ---------------------------------------------------------------------

    async def _plain_or_malformed(self, item: Item, batch: Batch) -> None:
        inbound, routing, keys = item.inbound, item.routing, item.keys
        if inbound.malformed is not None:
            self._fail(item, batch, None, inbound.malformed)
            return
        if not keys:
            seed = f"{inbound.body or ''}\x00{inbound.timestamp_ms}".encode()
            scope = item.policy.scope(routing)
            keys = (f"plain:{scope}{routing.sender}:{hashlib.sha256(seed).hexdigest()[:32]}",)
        warning = await item.policy.plaintext_warning(routing)
        flags: dict[str, object] = {} if warning is None else {"warning": warning[0]}
        events = [] if warning is None else [warning[1]]
        message = self._new_message(item, keys, inbound.body or "", None, None, None, flags)
        self._archive(item, batch, message, events)

    async def _encrypted(self, item: Item, element: EncryptedElement, batch: Batch) -> None:
        routing, policy = item.routing, item.policy
        sender = DeviceRef(routing.sender, element.sender_device_id)
        if routing.sender == self.own and element.sender_device_id == self._engine.device_id:
            batch.drop(item.inbox_id)  # our own echo or reflection: its plaintext is archived
            return
        if not await self._directory.is_listed(element.namespace, sender):
            if policy.keeps_unlisted:
                self._unlisted(item, sender, element.namespace, batch)
            else:
                reason = f"device {sender.device_id} is not on {sender.bare_jid}'s device list"
                self._fail(item, batch, element, reason)
            return
        try:
            result = await self._engine.decrypt(element, routing.sender)
        except Duplicate:
            batch.drop(item.inbox_id)
            return
        except NotForThisDevice:
            if element.payload is None or policy.drops_unaddressed(item.inbound):
                batch.drop(item.inbox_id)  # not for us, or sent before this device existed
                return
            self._fail(item, batch, element, "the message was not encrypted for this device")
            return
        except ProtocolError as error:
            self._fail(item, batch, element, f"{type(error).__name__}: {error}"[:200])
            if policy.repairs:
                batch.repairs.append((sender, element.namespace))
            return
        crashpoints.crash_point(crashpoints.AFTER_DECRYPT)
        self._decrypted(item, result, batch)

    def _decrypted(self, item: Item, result: DecryptResult, batch: Batch) -> None:
        """Stage a decryption: its state changes (merged into the batch's), trust records,
        the device's last message, the archive row and the inbox deletion go into the batch's
        unit of work."""
        inbound, keys = item.inbound, item.keys
        body: str | None = None
        replaces: str | None = None
        flags: dict[str, object] = {}
        if result.plaintext is not None:
            try:
                body, replaces, flags = self._body(item, result)
            except ValueError as error:
                self._fail(item, batch, inbound.encrypted, str(error))
                return
        mode = TrustMode(self._settings().trust_mode)
        sender = result.sender
        now = now_ms()

        def step(uow: UnitOfWork) -> Committed:
            level, events = observe_identity(uow, sender, result.sender_identity_key, mode, now)
            uow.devices.touch_message(result.namespace, sender.bare_jid, sender.device_id, now)
            archive_id = None
            if body is not None:
                trust = stored_trust_for_mark(message_trust(level, mode))
                asks = request_flags(inbound, item.routing.room)  # issue 17: receipt, marker
                message = self._new_message(
                    item, keys, body, result.namespace, sender.device_id, trust, flags | asks
                )
                if replaces is None:
                    archive_id = uow.archive.append(message)
                else:  # XEP-0308: the same sender's earlier message shows the new text
                    archive_id, refused = archive_correction(uow, message, replaces)
                    events.extend(record_event(uow, event, now) for event in refused)
            uow.inbox.delete(item.inbox_id)
            item.policy.advance(uow, inbound)
            row = None if archive_id is None else uow.archive.get(archive_id)
            return Committed(row, tuple(events))

        batch.state.merge(result.changes)
        batch.add(step, keys if body is not None else ())
        batch.decrypted.append(result)

    def _body(self, item: Item, result: DecryptResult) -> tuple[str, str | None, dict[str, object]]:
        """The message text: 0.3 body bytes, or the OMEMO 2 SCE envelope's body (affixes
        checked: `from` must be the sender, `to` what the conversation expects); with the
        id a correction replaces (0.3: the `<replace>` outside the encryption, where 0.3
        clients put it; OMEMO 2: only the one inside the envelope), and the flags of a reply
        (XEP-0461, believed where a correction is; its quoted fallback left out of the text).

        Raises:
            ValueError: the reason the text is refused (a failure row).
        """
        assert result.plaintext is not None
        if result.namespace is Namespace.LEGACY:
            try:
                text = result.plaintext.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ValueError("the decrypted body is not UTF-8") from error
            shown, flags = received(text, item.inbound.reply)
            return shown, item.inbound.replaces, flags
        try:
            envelope = self._transport.parse_envelope(result.plaintext)
        except ValueError as error:
            raise ValueError(item.policy.malformed_envelope(error)) from error
        if envelope.sender is None or bare_jid(envelope.sender) != item.routing.sender:
            raise ValueError("the encrypted envelope names another sender")
        error_text = item.policy.envelope_error(envelope, item.routing, self.own)
        if error_text is not None:
            raise ValueError(error_text)
        shown, flags = received(envelope.body or "", envelope.reply)
        return shown, envelope.replaces, flags

    def _fail(
        self, item: Item, batch: Batch, element: EncryptedElement | None, reason: str
    ) -> None:
        """Stage a failure row (no plaintext, no OMEMO state) and a security event.

        An empty (key-transport) message carried no text: only the event is kept, no row.
        """
        routing, policy = item.routing, item.policy
        empty = element is not None and element.payload is None
        device = None if element is None else element.sender_device_id
        event = PendingEvent(
            SecurityEventKind.DECRYPTION_FAILED,
            routing.sender,
            device,
            policy.failure_text(routing, reason, empty=empty),
        )
        if empty:
            batch.note(item.inbox_id, event, now_ms())
            return
        # Never a key the genuine message carries too (service/failures.py).
        keys = failure_keys(item.keys, policy.stamped, routing.sender, element)
        if not keys:
            keys = (f"fail:{policy.scope(routing)}{routing.sender}:{item.inbox_id}:{now_ms()}",)
        namespace = None if element is None else element.namespace
        message = self._new_message(item, keys, "", namespace, device, None, {"failure": reason})
        self._archive(item, batch, message, [event])

    def _archive(
        self, item: Item, batch: Batch, message: NewMessage, events: list[PendingEvent]
    ) -> None:
        """Stage an archive row without OMEMO state (plaintext, failure) with its events."""
        now = now_ms()

        def step(uow: UnitOfWork) -> Committed:
            archive_id = uow.archive.append(message)
            recorded = tuple(record_event(uow, event, now) for event in events)
            uow.inbox.delete(item.inbox_id)
            item.policy.advance(uow, item.inbound)
            return Committed(uow.archive.get(archive_id), recorded)

        batch.add(step, message.dedupe_keys)

    def _unlisted(self, item: Item, sender: DeviceRef, namespace: Namespace, batch: Batch) -> None:
        """A device not on its owner's list: keep the stanza (nothing lost, nothing decrypted)."""
        reason = f"device {sender.device_id} is not on {sender.bare_jid}'s device list"
        self.held.hold(namespace, sender)
        events = (
            ()
            if item.attempts
            else (
                PendingEvent(
                    SecurityEventKind.DECRYPTION_FAILED,
                    sender.bare_jid,
                    sender.device_id,
                    f"a {namespace.label} message from {reason}; it is kept unread until the "
                    "device appears on the list",
                ),
            )
        )
        now = now_ms()

        def step(uow: UnitOfWork) -> Committed:
            uow.inbox.record_failure(item.inbox_id, reason)
            return Committed(None, tuple(record_event(uow, event, now) for event in events))

        batch.add(step)

    # --- rows and keys ------------------------------------------------------------------

    def dedupe_keys(self, policy: Policy, inbound: Inbound, routing: Routing) -> tuple[str, ...]:
        """A stanza's de-duplication keys: the stanza-id stamped for us, the origin-id (else
        the message id) and the digest of the key for this device."""
        keys: list[str] = []
        if inbound.stanza_id:
            keys.append(policy.stanza_key(routing, inbound.stanza_id))
        if inbound.origin_id:
            keys.append(f"oid:{routing.sender}:{inbound.origin_id}")
        elif inbound.message_id:
            keys.append(f"mid:{policy.scope(routing)}{routing.sender}:{inbound.message_id}")
        element = inbound.encrypted
        if element is not None:
            digest = _key_digest(element, self._engine.device_id)
            if digest is not None:
                keys.append(
                    f"omemo:{element.namespace.label}:{routing.sender}:"
                    f"{element.sender_device_id}:{digest}"
                )
        return tuple(keys)

    @staticmethod
    def _new_message(  # noqa: PLR0917 (one archive row from its parts)
        item: Item,
        keys: tuple[str, ...],
        body: str,
        namespace: Namespace | None,
        device: int | None,
        trust: TrustLevel | None,
        flags: dict[str, object],
    ) -> NewMessage:
        inbound, routing = item.inbound, item.routing
        now = now_ms()
        return NewMessage(
            peer=routing.peer,
            direction=routing.direction,
            sender_bare_jid=routing.sender,
            body=body,
            timestamp=inbound.timestamp_ms or now,
            received_at=now,
            dedupe_keys=keys,
            room=routing.room,
            nick=routing.nick,
            sender_device=device,
            trust=trust,
            omemo_version=None if namespace is None else namespace.label,
            stanza_id=inbound.stanza_id,
            origin_id=inbound.origin_id,
            message_id=inbound.message_id,
            flags=flags,
            stamped=inbound.timestamp_ms is not None,
        )
