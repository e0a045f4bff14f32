"""The inbound and outbound pipelines of 1:1 OMEMO chat (DESIGN.md §3.1–3.5).

Inbound, per stanza: authenticate the path (carbons only from our own bare JID, MAM results
only for queries we opened) → write it to the inbox, still ciphertext → skip it silently when
a dedupe key is known → decrypt (the engine works on copies, nothing is written) → ONE unit of
work with the engine's state changes (session, consumed prekey), the archive row with the
plaintext, its dedupe keys, trust records, the device's `last_message` and the inbox deletion
→ events. A crash anywhere leaves the stanza in the inbox (retried by `drain_inbox`) or
everything committed. A failed decryption commits only a failure row (no plaintext, no state)
and a security event.

Stanzas that arrive together (queued while the worker was busy, a MAM page, inbox rows at
start-up) go through as one batch: one inbox write, then every decryption is staged
(`DbRunner.staged_state`, read by the next decryption) and the whole batch is ONE unit of
work, so a crash leaves all of it in the inbox or all of it committed. Events, empty messages
and republishing follow the commit; a batch that fails is retried stanza by stanza.

Outbound: choose the version, encrypt for the trusted devices of the contact and our own other
devices, commit the advanced sending chains together with our archived plaintext, and only then
hand the stanza to the transport. With no usable recipient nothing leaves (`SendFailed`);
plaintext goes out only by an explicit, remembered per-chat choice. Sends that wait for the
engine lock together go as one group: one read trip (sessions and stored trust of the listed
devices), each message encrypted on the state the previous one staged, ONE unit of work for
all their archive and outbox rows and the final state, then the stanzas in order; each caller
gets its own report or `SendFailed`.

Every engine operation runs under one lock, so one operation's changes are committed before the
next operation reads the same session (the engine keeps no mutable cache).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from tui_omemo.config import Settings
from tui_omemo.events import SecurityEvent, SecurityEventKind
from tui_omemo.model import DeviceRef, Namespace, TrustLevel, bare_jid
from tui_omemo.protocol.device_list import merge_device_list
from tui_omemo.protocol.elements import DeviceList, DeviceListEntry, EncryptedElement
from tui_omemo.protocol.engine import DecryptResult, Engine, TrustDecider
from tui_omemo.protocol.errors import (
    BundleUnavailable,
    Duplicate,
    NotForThisDevice,
    ProtocolError,
)
from tui_omemo.protocol.ports import StateChanges
from tui_omemo.protocol.results import SkipReason
from tui_omemo.protocol.session import session_key
from tui_omemo.protocol.trust import TrustMode
from tui_omemo.protocol.versions import version_for
from tui_omemo.service import crashpoints
from tui_omemo.service.account import device_label, own_entry
from tui_omemo.service.api import (
    ChatMessage,
    Delivery,
    MessageReceived,
    MessageSent,
    MessageTrust,
    SecurityEventRaised,
    SendFailed,
    SendReport,
    ServiceEvent,
    SkippedDevice,
)
from tui_omemo.service.directory import CachingDirectory
from tui_omemo.service.failures import failure_keys
from tui_omemo.service.link import CatchUpGap
from tui_omemo.service.outbox import Outbox, archive_pending
from tui_omemo.service.runner import DbRunner
from tui_omemo.service.state import (
    KnownTrust,
    apply_state_changes,
    read_ahead,
    read_known_trust,
)
from tui_omemo.service.transport import Inbound, Outbound, Transport, TransportError, Wrapper
from tui_omemo.service.trust import (
    PendingEvent,
    effective_level,
    message_trust,
    observe_identity,
    record_event,
    stored_trust_for_mark,
)
from tui_omemo.service.versions import encrypt_per_device, other_version
from tui_omemo.store import (
    ArchivedMessage,
    DeviceRecord,
    Direction,
    InboxItem,
    InboxSource,
    NewMessage,
    UnitOfWork,
)
from tui_omemo.store.outbox import PENDING_FLAG

log = logging.getLogger(__name__)

BODY_HINT = "I sent you an OMEMO encrypted message but your client doesn't support it."
REPAIR_INTERVAL_S = 3600.0
LAST_STANZA_ID = "mam/last_stanza_id"
"""Settings key: the stanza-id of our archive where the next MAM catch-up starts."""
INBOX_BATCH = 100
INBOUND_BATCH = 50
"""At most this many queued live stanzas are decrypted and committed as one unit of work."""
SEND_GROUP = 32
"""At most this many waiting 1:1 sends are encrypted in turn and committed as one unit of work."""

SKIP_WORDS: dict[SkipReason, str] = {
    SkipReason.UNTRUSTED: "distrusted device",
    SkipReason.UNDECIDED: "undecided device: verify it or decide to trust it",
    SkipReason.NO_BUNDLE: "no key bundle published (or it could not be fetched)",
    SkipReason.INVALID_BUNDLE: "its key bundle is invalid",
    SkipReason.NO_DEVICES: "no OMEMO device published",
    SkipReason.INACTIVE: "not on the current device list",
    SkipReason.OWN_DEVICE: "this device",
    SkipReason.STALE: "stale own device",
    SkipReason.OTHER_VERSION: "publishes only the other OMEMO version",
}


def now_ms() -> int:
    """Milliseconds since the epoch."""
    return int(time.time() * 1000)


def new_message_id() -> str:
    """A fresh, unguessable stanza id (also our origin-id)."""
    return secrets.token_hex(12)


@dataclass(frozen=True, slots=True)
class ChatPrefs:
    """Per-chat choices, remembered in the settings table under `chat/<bare_jid>`.

    Attributes:
        plaintext: the user chose to send unencrypted to this contact (only used while the
            contact publishes no OMEMO device).
        version: a forced OMEMO version, or None for automatic.
    """

    plaintext: bool = False
    version: Namespace | None = None

    def to_json(self) -> dict[str, object]:
        """The stored form."""
        return {
            "plaintext": self.plaintext,
            "version": None if self.version is None else self.version.value,
        }

    @classmethod
    def from_json(cls, value: object) -> ChatPrefs:
        """Read the stored form (anything unreadable gives the defaults)."""
        if not isinstance(value, dict):
            return cls()
        version = value.get("version")
        return cls(
            bool(value.get("plaintext", False)),
            Namespace(version) if version in {n.value for n in Namespace} else None,
        )


def prefs_key(peer: str) -> str:
    """The settings key of a chat's preferences."""
    return f"chat/{peer}"


def to_chat_message(row: ArchivedMessage) -> ChatMessage:
    """An archive row as the UI shows it."""
    failure = row.flags.get("failure")
    omemo = Namespace.from_label(row.omemo_version) if row.omemo_version else None
    if isinstance(failure, str):
        trust = MessageTrust.FAILED
    elif omemo is None:
        trust = MessageTrust.UNENCRYPTED
    elif row.trust is TrustLevel.VERIFIED:
        trust = MessageTrust.VERIFIED
    elif row.trust is TrustLevel.BLINDLY_TRUSTED:
        trust = MessageTrust.BLIND
    else:
        trust = MessageTrust.UNTRUSTED
    return ChatMessage(
        archive_id=row.id,
        peer=row.peer,
        outgoing=row.direction is Direction.OUT,
        sender=row.sender_bare_jid,
        time=datetime.fromtimestamp(row.timestamp / 1000, UTC),
        body=row.body,
        trust=trust,
        omemo=omemo,
        sender_device_id=row.sender_device,
        nick=row.nick,
        failure=failure if isinstance(failure, str) else None,
        delivery=Delivery.PENDING if row.flags.get(PENDING_FLAG) else Delivery.SENT,
    )


def sent_message(archive_id: int, message: NewMessage) -> MessageSent:
    """The event for our message just archived as it is sent (pending: the server does not
    have it yet); built from the row written, without reading it back."""
    row = ArchivedMessage(
        id=archive_id,
        peer=message.peer,
        direction=message.direction,
        sender_bare_jid=message.sender_bare_jid,
        body=message.body,
        timestamp=message.timestamp,
        received_at=message.received_at,
        room=message.room,
        nick=message.nick,
        sender_device=message.sender_device,
        trust=message.trust,
        omemo_version=message.omemo_version,
        stanza_id=message.stanza_id,
        origin_id=message.origin_id,
        message_id=message.message_id,
        flags={**message.flags, PENDING_FLAG: True},
    )
    return MessageSent(to_chat_message(row))


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


def _key_digest(element: EncryptedElement, device_id: int) -> str | None:
    key = element.key_for(device_id)
    if key is None:
        return None
    return hashlib.sha256(key.data).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class _Routing:
    """Who a stanza is from and which chat it belongs to."""

    sender: str  # author's bare JID
    peer: str  # the chat
    direction: Direction


@dataclass(frozen=True, slots=True)
class _Item:
    """One inbox row on its way through the inbound pipeline."""

    inbox_id: int
    inbound: Inbound
    attempts: int
    routing: _Routing
    keys: tuple[str, ...]  # its dedupe keys


@dataclass(frozen=True, slots=True)
class _Committed:
    """What one stanza's part of a unit of work produced: its archive row (read inside the
    transaction) and the security events recorded with it, emitted after the commit."""

    row: ArchivedMessage | None = None
    events: tuple[PendingEvent, ...] = ()


Step = Callable[[UnitOfWork], _Committed]


@dataclass(slots=True)
class _Batch:
    """One unit of work being assembled for several inbox rows (the engine lock is held).

    Attributes:
        steps: per stanza, what it writes inside the transaction, in arrival order.
        keys: the dedupe keys of the rows staged so far (a second copy is dropped).
        decrypted: the staged decryptions (their follow-ups run after the commit).
        repairs: devices whose message failed to decrypt (the optional repair, after it).
        state: the OMEMO state changes of every staged decryption, merged in order (what
            the next decryption reads through `DbRunner.staged_state`); written once.
    """

    steps: list[Step] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    decrypted: list[DecryptResult] = field(default_factory=list)
    repairs: list[tuple[DeviceRef, Namespace]] = field(default_factory=list)
    state: StateChanges = field(default_factory=StateChanges)

    def knows(self, keys: Iterable[str]) -> bool:
        """Whether a row staged in this batch already carries one of `keys`."""
        return any(key in self.keys for key in keys)

    def add(self, step: Step, keys: Iterable[str] = ()) -> None:
        """Stage one stanza's writes (and the dedupe keys of the row it archives)."""
        self.steps.append(step)
        self.keys.update(keys)

    def drop(self, inbox_id: int) -> None:
        """Stage the silent deletion of an inbox row (a duplicate, our own echo …)."""

        def step(uow: UnitOfWork) -> _Committed:
            uow.inbox.delete(inbox_id)
            return _Committed()

        self.add(step)

    def note(self, inbox_id: int, event: PendingEvent, now: int) -> None:
        """Stage an inbox deletion with a security event and no archive row."""

        def step(uow: UnitOfWork) -> _Committed:
            uow.inbox.delete(inbox_id)
            return _Committed(None, (record_event(uow, event, now),))

        self.add(step)

    def commit(self, uow: UnitOfWork) -> list[_Committed]:
        """Run every step inside `uow` (on the DB thread), in order, and write the merged
        state (a session advanced by several messages is written once)."""
        outcomes = [step(uow) for step in self.steps]
        apply_state_changes(uow, self.state)
        crashpoints.crash_point(crashpoints.BEFORE_COMMIT)
        return outcomes


def _follow_ups(results: Iterable[DecryptResult]) -> list[DecryptResult]:
    """The decryptions of one batch as follow-up work: one per sender device (its flags
    OR-ed over the batch, so one empty message answers several), with the bundle of a
    namespace republished once."""
    merged: dict[tuple[Namespace, DeviceRef], DecryptResult] = {}
    for result in results:
        earlier = merged.get((result.namespace, result.sender))
        merged[(result.namespace, result.sender)] = (
            result
            if earlier is None
            else replace(
                result,
                key_exchange=earlier.key_exchange or result.key_exchange,
                pre_key_consumed=earlier.pre_key_consumed or result.pre_key_consumed,
                send_empty_message=earlier.send_empty_message or result.send_empty_message,
                heartbeat_due=earlier.heartbeat_due or result.heartbeat_due,
            )
        )
    published: set[Namespace] = set()
    follow_ups = []
    for result in merged.values():
        republish = result.pre_key_consumed and result.namespace not in published
        if republish:
            published.add(result.namespace)
        follow_ups.append(replace(result, pre_key_consumed=republish))
    return follow_ups


class _GroupStage(enum.Enum):
    """How far a send group got (what its unanswered requests become if it is given up)."""

    ENCRYPTING = "encrypting"  # nothing committed: back to the queue
    COMMITTING = "committing"  # the unit of work may be committed: reported queued
    HANDING_OVER = "handing over"  # committed: reported queued
    DONE = "done"  # every request was answered


@dataclass(slots=True, eq=False)
class _SendRequest:
    """One `send_text` waiting for a send group (`Session._send_group`).

    Attributes:
        reply: its report or `SendFailed`; cancelled when the caller gave up first.
        taken: a group holds it (until then its caller may withdraw it).
    """

    peer: str
    text: str
    namespace: Namespace
    forced: Namespace | None
    reply: asyncio.Future[SendReport]
    message_id: str = field(default_factory=new_message_id)
    taken: bool = False


@dataclass(frozen=True, slots=True)
class _Encrypted:
    """One message of a send group, encrypted, not committed yet."""

    request: _SendRequest
    message: NewMessage
    outbound: Outbound
    skipped: tuple[SkippedDevice, ...]
    versions: tuple[Namespace, ...]
    changes: StateChanges

    def report(self, archive_id: int | None, *, queued: bool) -> SendReport:
        """Its caller's report."""
        return SendReport(archive_id, self.versions[0], self.skipped, self.versions, queued=queued)


def _resolve(request: _SendRequest, report: SendReport) -> None:
    if not request.reply.done():
        request.reply.set_result(report)


def _reject(request: _SendRequest, error: BaseException) -> None:
    if not request.reply.done():
        request.reply.set_exception(error)


class Session:
    """One account's OMEMO chat pipelines over a transport, an engine and the DB runner.

    Args:
        transport: the XMPP side.
        engine: our device's engine (its `StateStore` reads through `runner`).
        runner: the DB thread.
        directory: the engine's directory (cached device lists, recorded in the store).
        settings: returns the current settings (they can change at run time).
        emit: where service events go (the service's event queue).
    """

    def __init__(  # noqa: PLR0917 (the collaborators, all required)
        self,
        transport: Transport,
        engine: Engine,
        runner: DbRunner,
        directory: CachingDirectory,
        settings: Callable[[], Settings],
        emit: Callable[[ServiceEvent], None],
    ) -> None:
        self._transport = transport
        self._engine = engine
        self._runner = runner
        self._directory = directory
        self._settings = settings
        self._emit = emit
        self._lock = asyncio.Lock()
        self._queue: asyncio.Queue[Inbound] = asyncio.Queue()
        self._live = asyncio.Event()
        self._repaired: dict[DeviceRef, float] = {}
        self.catch_up_sessions: set[tuple[Namespace, DeviceRef]] = set()
        self.archive_gap = CatchUpGap()
        """While open, live messages must not move the catch-up start past messages a lost
        stream may have left in the archive only (set by the service's connection reports)."""
        self.groupchat_retry: Callable[[InboxItem, Inbound], Awaitable[None]] | None = None
        """Where `drain_inbox` hands groupchat rows (the group-chat component, issue 5)."""
        self.unread: dict[str, int] = {}
        self._prefs: dict[str, ChatPrefs] = {}
        self._waiting: list[_SendRequest] = []
        """1:1 sends waiting for the next send group, oldest first."""
        self.outbox = Outbox(transport, runner, emit, None)
        """Our messages the server has not confirmed (`service/outbox.py`)."""

    @property
    def engine(self) -> Engine:
        """Our device's engine."""
        return self._engine

    @property
    def own(self) -> str:
        """Our bare JID."""
        return self._engine.own_bare_jid

    @property
    def lock(self) -> asyncio.Lock:
        """The engine lock, held around every engine operation so that one operation's state
        is committed before the next one reads it (the group-chat component shares it)."""
        return self._lock

    # --- inbound: entry points ---------------------------------------------------------

    def enqueue(self, inbound: Inbound) -> None:
        """Take a stanza from the transport (sync, on the loop); the worker processes it."""
        self._queue.put_nowait(inbound)

    def go_live(self) -> None:
        """Let the worker process live stanzas (after start-up drain and catch-up)."""
        self._live.set()

    async def run_worker(self) -> None:
        """Process queued live stanzas forever (cancel to stop): whatever queued up while the
        previous stanzas were processed goes through together, as one unit of work."""
        await self._live.wait()
        while True:
            batch = [await self._queue.get()]
            while len(batch) < INBOUND_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self.accept_all_safely(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def accept_safely(self, inbound: Inbound) -> None:
        """`accept`, but an unexpected failure (network down while refetching a device list,
        a storage error) is logged and leaves the stanza in the inbox for the next start."""
        await self.accept_all_safely((inbound,))

    async def accept_all_safely(self, inbounds: Sequence[Inbound]) -> None:
        """`accept_all`, logging an unexpected failure (what failed stays in the inbox)."""
        try:
            await self.accept_all(inbounds)
        except Exception as error:  # one bad stanza must not stop the pipeline
            log.warning("an incoming stanza stays in the inbox: %s", type(error).__name__)

    async def wait_idle(self) -> None:
        """Wait until every queued live stanza is processed (tests, shutdown)."""
        await self._queue.join()

    async def accept(self, inbound: Inbound) -> None:
        """Check the path, keep the stanza in the inbox, then process it."""
        await self.accept_all((inbound,))

    async def accept_all(self, inbounds: Sequence[Inbound]) -> None:
        """Check each stanza's path, keep the new ones in the inbox (one write, which also
        drops the already known ones silently), then process them as one unit of work."""
        inbounds = [for_device(inbound, self._engine.device_id) for inbound in inbounds]
        kept = [
            inbound
            for inbound in inbounds
            if not await self._rejected(inbound)
            and inbound.message_type != "groupchat"
            and (
                inbound.encrypted is not None or inbound.malformed is not None or bool(inbound.body)
            )
        ]
        if not kept:
            return
        routed = [(inbound, self._routing(inbound)) for inbound in kept]
        keyed = [
            (inbound, routing, self._dedupe_keys(inbound, routing)) for inbound, routing in routed
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
                else uow.inbox.add(inbound.to_bytes(), inbound.source, received)
                for inbound, _routing, keys in keyed
            ]
            return ids, read_ahead(uow, sessions)  # the senders' sessions, for the decryptions

        async with self._lock:
            inbox_ids, ahead = await self._runner.write(keep)
            crashpoints.crash_point(crashpoints.AFTER_INBOX_WRITE)
            await self._process_locked(
                [
                    _Item(inbox_id, inbound, 0, routing, keys)
                    for inbox_id, (inbound, routing, keys) in zip(inbox_ids, keyed, strict=True)
                    if inbox_id is not None
                ],
                ahead=ahead,
            )

    async def _rejected(self, inbound: Inbound) -> bool:
        """Raise a security event for a stanza whose path is not authentic."""
        rejection = self._path_rejection(inbound)
        if rejection is None:
            return False
        await self._security_event(
            PendingEvent(
                SecurityEventKind.DECRYPTION_FAILED,
                bare_jid(inbound.wrapper_from or inbound.sender),
                None,
                rejection,
            )
        )
        return True

    def _advance_archive_position(self, uow: UnitOfWork, inbound: Inbound) -> None:
        """Move the MAM catch-up start past a live/offline message (not while catching up,
        when `history.CatchUp` moves it page by page, nor while a lost stream may have left
        a gap before it)."""
        if (
            inbound.stanza_id
            and inbound.source is not InboxSource.MAM
            and not self._engine.catching_up
            and not self.archive_gap.open
        ):
            uow.settings.set(LAST_STANZA_ID, inbound.stanza_id)

    def _path_rejection(self, inbound: Inbound) -> str | None:
        """Why a stanza's path is not authentic (DESIGN.md §3.6), or None."""
        own = self.own
        match inbound.wrapper:
            case Wrapper.CARBON_RECEIVED | Wrapper.CARBON_SENT:
                if bare_jid(inbound.wrapper_from or "") != own:
                    return (
                        f"rejected a carbon copy sent by {bare_jid(inbound.wrapper_from or '')}"
                        ": carbons are only accepted from our own account"
                    )
            case Wrapper.MAM:
                if not inbound.solicited:
                    return "rejected an archive result for a query we never opened"
                if bare_jid(inbound.wrapper_from or own) != own:
                    return "rejected an archive result from another account's archive"
            case Wrapper.NONE:
                pass
        return None

    async def drain_inbox(self, *, rooms: bool = True) -> int:
        """Process every stanza left in the inbox (crash recovery at start-up; while running,
        what a broken stream left there, once it is back), a batch of rows per unit of work.
        Rows are read under the engine lock: a live stanza is written and processed within
        one hold of it, so what is read is only what was left behind. Without `rooms`,
        groupchat rows stay (the group-chat component retries them when it rejoins).

        Returns:
            How many rows were handled (processed or left for later).
        """
        handled = 0
        seen: set[int] = set()
        while True:
            async with self._lock:
                items: list[InboxItem] = await self._runner.read(
                    lambda uow: uow.inbox.pending(INBOX_BATCH + len(seen))
                )
            fresh = [item for item in items if item.id not in seen]
            if not fresh:
                return handled
            seen.update(item.id for item in fresh)
            handled += len(fresh)
            try:
                await self._retry_all(fresh, rooms=rooms)
            except Exception as error:  # left in the inbox for the next start
                log.warning("inbox rows stay for later: %s", type(error).__name__)

    async def _retry_all(self, rows: Sequence[InboxItem], *, rooms: bool = True) -> None:
        """Retry inbox rows: groupchat rows go to the group-chat component, unreadable ones
        are deleted, the others are processed together."""
        items: list[_Item] = []
        unreadable: list[int] = []
        for row in rows:
            try:
                inbound = Inbound.from_bytes(row.stanza)
            except (ValueError, KeyError, TypeError):
                unreadable.append(row.id)
                continue
            if inbound.message_type == "groupchat":
                if rooms:
                    await self._retry_groupchat(row, inbound)
                continue
            routing = self._routing(inbound)
            items.append(
                _Item(
                    row.id, inbound, row.attempts + 1, routing, self._dedupe_keys(inbound, routing)
                )
            )
        await self.process_all(items, unreadable)

    async def _retry_groupchat(self, row: InboxItem, inbound: Inbound) -> None:
        if self.groupchat_retry is None:
            return  # the row waits for a start that has a group-chat component
        try:
            await self.groupchat_retry(row, inbound)
        except Exception as error:  # left in the inbox for the next start
            log.warning("an inbox row stays for later: %s", type(error).__name__)

    # --- inbound: processing ------------------------------------------------------------

    def _routing(self, inbound: Inbound) -> _Routing:
        sender = bare_jid(inbound.sender)
        if sender == self.own:
            return _Routing(sender, bare_jid(inbound.recipient), Direction.OUT)
        return _Routing(sender, sender, Direction.IN)

    def _dedupe_keys(self, inbound: Inbound, routing: _Routing) -> tuple[str, ...]:
        keys: list[str] = []
        if inbound.stanza_id:
            keys.append(f"sid:{self.own}:{inbound.stanza_id}")
        if inbound.origin_id:
            keys.append(f"oid:{routing.sender}:{inbound.origin_id}")
        elif inbound.message_id:
            keys.append(f"mid:{routing.sender}:{inbound.message_id}")
        element = inbound.encrypted
        if element is not None:
            digest = _key_digest(element, self._engine.device_id)
            if digest is not None:
                keys.append(
                    f"omemo:{element.namespace.label}:{routing.sender}:"
                    f"{element.sender_device_id}:{digest}"
                )
        return tuple(keys)

    async def process_all(self, items: Sequence[_Item], dropped: Sequence[int] = ()) -> None:
        """Process rows already in the inbox (the known ones and `dropped` are deleted) as
        one unit of work."""
        async with self._lock:
            known = await self._runner.read(
                lambda uow: [
                    bool(item.keys) and uow.dedupe.seen(item.keys) is not None for item in items
                ]
            )
            fresh = [item for item, seen in zip(items, known, strict=True) if not seen]
            gone = [
                *dropped,
                *(item.inbox_id for item, seen in zip(items, known, strict=True) if seen),
            ]
            await self._process_locked(fresh, gone)

    async def _process_locked(
        self,
        items: Sequence[_Item],
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

    async def _one_by_one(self, items: Sequence[_Item], dropped: Sequence[int]) -> None:
        if dropped:
            await self._runner.write(lambda uow: [uow.inbox.delete(row) for row in dropped])
        for item in items:
            try:
                await self._process_locked((item,))  # its rows are read again
            except Exception as error:  # left in the inbox for the next start
                log.warning("an incoming stanza stays in the inbox: %s", type(error).__name__)

    async def _commit_batch(
        self, items: Sequence[_Item], dropped: Sequence[int], ahead: Mapping[str, str | None]
    ) -> tuple[_Batch, list[_Committed]]:
        """Assemble the unit of work (each decryption reads the state staged by the ones
        before it) and commit it; the staged state is emptied whatever happens. The loop
        gets a turn after every stanza: a decryption that finds everything staged never
        suspends, and a MAM page must not become one long loop step (DESIGN.md §6)."""
        batch = _Batch()
        for inbox_id in dropped:
            batch.drop(inbox_id)
        self._runner.staged_state = batch.state
        self._runner.prefetched_state = dict(ahead)
        try:
            for item in items:
                await self._take(item, batch)
                await asyncio.sleep(0)
            committed = await self._runner.write(batch.commit)
        finally:
            self._runner.staged_state = StateChanges()
            self._runner.prefetched_state = {}
        return batch, committed

    async def _take(self, item: _Item, batch: _Batch) -> None:
        """Add one stanza's outcome to the batch (a copy of one already in it is dropped)."""
        if batch.knows(item.keys):
            batch.drop(item.inbox_id)
        elif item.inbound.encrypted is None:
            await self._plain_or_malformed(item, batch)
        else:
            await self._encrypted(item, item.inbound.encrypted, batch)

    async def _after_batch(self, batch: _Batch, committed: Sequence[_Committed]) -> None:
        """Emit what the committed unit of work produced, then answer key exchanges and
        heartbeats (one empty message per device), republish a bundle whose prekey was used
        (once per namespace) and run the optional repairs. The first follow-up failure is
        raised once every follow-up had its turn."""
        for outcome in committed:
            await self._after_commit(outcome.row, outcome.events)
        failure: Exception | None = None
        for result in _follow_ups(batch.decrypted):
            try:
                await self.after_decrypt(result)
            except (TransportError, ProtocolError) as error:
                failure = failure or error
        for device, namespace in batch.repairs:
            await self._maybe_repair(device, namespace)
        if failure is not None:
            raise failure

    async def _plain_or_malformed(self, item: _Item, batch: _Batch) -> None:
        inbound, routing, keys = item.inbound, item.routing, item.keys
        if inbound.malformed is not None:
            self._fail(item, batch, None, inbound.malformed)
            return
        if not keys:
            seed = f"{inbound.body or ''}\x00{inbound.timestamp_ms}".encode()
            keys = (f"plain:{routing.sender}:{hashlib.sha256(seed).hexdigest()[:32]}",)
        encrypted_chat = await self._is_encrypted_chat(routing.peer)
        flags: dict[str, object] = {}
        events: list[PendingEvent] = []
        if encrypted_chat and routing.direction is Direction.IN:
            flags["warning"] = "unencrypted message in an encrypted chat"
            events.append(
                PendingEvent(
                    SecurityEventKind.PLAINTEXT_IN_ENCRYPTED_CHAT,
                    routing.peer,
                    None,
                    f"{routing.sender} sent an unencrypted message in an encrypted chat",
                )
            )
        message = self._new_message(
            inbound, routing, keys, inbound.body or "", None, None, None, flags
        )
        self._archive(item, batch, message, events)

    async def _is_encrypted_chat(self, peer: str) -> bool:
        """A chat is encrypted when the peer is known to have OMEMO devices and the user has
        not chosen plaintext for it; plaintext from a contact who never used OMEMO is only
        marked unencrypted, without a security event per message."""

        def check(uow: UnitOfWork) -> bool:
            prefs = ChatPrefs.from_json(uow.settings.get(prefs_key(peer)))
            return not prefs.plaintext and bool(uow.devices.of(peer))

        return await self._runner.read(check)

    async def _encrypted(self, item: _Item, element: EncryptedElement, batch: _Batch) -> None:
        routing = item.routing
        sender = DeviceRef(routing.sender, element.sender_device_id)
        if routing.sender == self.own and element.sender_device_id == self._engine.device_id:
            batch.drop(item.inbox_id)  # our own echo
            return
        if not await self._directory.is_listed(element.namespace, sender):
            self._unlisted(item, sender, element.namespace, batch)
            return
        try:
            result = await self._engine.decrypt(element, routing.sender)
        except Duplicate:
            batch.drop(item.inbox_id)
            return
        except NotForThisDevice:
            if element.payload is None:  # an empty message for another device of ours
                batch.drop(item.inbox_id)
                return
            self._fail(item, batch, element, "the message was not encrypted for this device")
            return
        except ProtocolError as error:
            self._fail(item, batch, element, f"{type(error).__name__}: {error}"[:200])
            batch.repairs.append((sender, element.namespace))
            return
        crashpoints.crash_point(crashpoints.AFTER_DECRYPT)
        self._decrypted(item, result, batch)

    def _decrypted(self, item: _Item, result: DecryptResult, batch: _Batch) -> None:
        """Stage a decryption: its state changes (merged into the batch's), trust records,
        the device's last message, the archive row and the inbox deletion go into the batch's
        unit of work."""
        inbound, routing, keys = item.inbound, item.routing, item.keys
        body: str | None = None
        if result.plaintext is not None:
            try:
                body = self._body(result, routing)
            except ValueError as error:
                self._fail(item, batch, inbound.encrypted, str(error))
                return
        mode = TrustMode(self._settings().trust_mode)
        sender = result.sender
        now = now_ms()

        def step(uow: UnitOfWork) -> _Committed:
            level, events = observe_identity(uow, sender, result.sender_identity_key, mode, now)
            uow.devices.touch_message(result.namespace, sender.bare_jid, sender.device_id, now)
            archive_id = None
            if body is not None:
                mark = message_trust(level, mode)
                message = self._new_message(
                    inbound,
                    routing,
                    keys,
                    body,
                    result.namespace,
                    sender.device_id,
                    stored_trust_for_mark(mark),
                    {},
                )
                archive_id = uow.archive.append(message)
            uow.inbox.delete(item.inbox_id)
            self._advance_archive_position(uow, inbound)
            row = None if archive_id is None else uow.archive.get(archive_id)
            return _Committed(row, tuple(events))

        batch.state.merge(result.changes)
        batch.add(step, keys if body is not None else ())
        batch.decrypted.append(result)

    def _body(self, result: DecryptResult, routing: _Routing) -> str:
        """The message text: 0.3 body bytes, or the OMEMO 2 SCE envelope's body (affixes
        checked: `from` must be the sender, `to` the chat's other side)."""
        assert result.plaintext is not None
        if result.namespace is Namespace.LEGACY:
            try:
                return result.plaintext.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ValueError("the decrypted body is not UTF-8") from error
        envelope = self._transport.parse_envelope(result.plaintext)
        if envelope.sender is None or bare_jid(envelope.sender) != routing.sender:
            raise ValueError("the encrypted envelope names another sender")
        expected_to = routing.peer if routing.direction is Direction.OUT else self.own
        if envelope.to is not None and bare_jid(envelope.to) != expected_to:
            raise ValueError("the encrypted envelope was addressed to someone else")
        return envelope.body or ""

    async def after_decrypt(self, result: DecryptResult, *, tolerant: bool = False) -> None:
        """Republish a changed bundle, answer a key exchange or heartbeat with an empty message
        (after catch-up for sessions built during it). The engine lock is held.

        Args:
            result: what the engine decrypted (already committed).
            tolerant: skip a republish that fails on the network and an empty message that
                fails on the network or in the protocol (the group path); otherwise the
                error propagates (the 1:1 path, where `accept_safely` logs it).
        """
        publish_errors = (TransportError,) if tolerant else ()
        empty_errors = (TransportError, ProtocolError) if tolerant else ()
        if result.pre_key_consumed:
            with contextlib.suppress(*publish_errors):
                await self.publish_bundle(result.namespace)
        if self._engine.catching_up and result.key_exchange:
            self.catch_up_sessions.add((result.namespace, result.sender))
            return
        if result.send_empty_message:
            with contextlib.suppress(*empty_errors):
                await self.send_empty_locked(result.namespace, result.sender)

    def _fail(
        self,
        item: _Item,
        batch: _Batch,
        element: EncryptedElement | None,
        reason: str,
    ) -> None:
        """Stage a failure row (no plaintext, no OMEMO state) and a security event.

        An empty (key-transport) message carried no text: only the event is kept, no row.
        """
        routing = item.routing
        if element is not None and element.payload is None:
            event = PendingEvent(
                SecurityEventKind.DECRYPTION_FAILED,
                routing.sender,
                element.sender_device_id,
                f"an empty OMEMO message from {routing.sender} could not be decrypted: {reason}",
            )
            batch.note(item.inbox_id, event, now_ms())
            return
        # Never a key the genuine message carries too (service/failures.py).
        keys = failure_keys(item.keys, "sid:", routing.sender, element)
        if not keys:
            keys = (f"fail:{routing.sender}:{item.inbox_id}:{now_ms()}",)
        device = None if element is None else element.sender_device_id
        namespace = None if element is None else element.namespace
        message = self._new_message(
            item.inbound, routing, keys, "", namespace, device, None, {"failure": reason}
        )
        event = PendingEvent(
            SecurityEventKind.DECRYPTION_FAILED,
            routing.sender,
            device,
            f"a message from {routing.sender} could not be decrypted: {reason}",
        )
        self._archive(item, batch, message, [event])

    def _archive(
        self, item: _Item, batch: _Batch, message: NewMessage, events: list[PendingEvent]
    ) -> None:
        """Stage an archive row without OMEMO state (plaintext, failure) with its events."""
        now = now_ms()
        inbound = item.inbound

        def step(uow: UnitOfWork) -> _Committed:
            archive_id = uow.archive.append(message)
            for event in events:
                record_event(uow, event, now)
            uow.inbox.delete(item.inbox_id)
            self._advance_archive_position(uow, inbound)
            return _Committed(uow.archive.get(archive_id), tuple(events))

        batch.add(step, message.dedupe_keys)

    async def _after_commit(
        self, row: ArchivedMessage | None, events: Iterable[PendingEvent]
    ) -> None:
        """Emit what a committed unit of work produced (the row was read inside it)."""
        for event in events:
            self._emit(
                SecurityEventRaised(
                    SecurityEvent(event.kind, event.bare_jid, event.device_id, event.detail)
                )
            )
        if row is None:
            return
        if row.direction is Direction.IN:
            self.unread[row.peer] = self.unread.get(row.peer, 0) + 1
        self._emit(MessageReceived(to_chat_message(row)))

    def _unlisted(
        self, item: _Item, sender: DeviceRef, namespace: Namespace, batch: _Batch
    ) -> None:
        """A device not on its owner's list: keep the stanza (nothing lost, nothing decrypted)."""
        reason = f"device {sender.device_id} is not on {sender.bare_jid}'s device list"
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

        def step(uow: UnitOfWork) -> _Committed:
            uow.inbox.record_failure(item.inbox_id, reason)
            for event in events:
                record_event(uow, event, now)
            return _Committed(None, events)

        batch.add(step)

    async def _security_event(self, event: PendingEvent) -> None:
        await self._runner.write(lambda uow: record_event(uow, event, now_ms()))
        self._emit(
            SecurityEventRaised(
                SecurityEvent(event.kind, event.bare_jid, event.device_id, event.detail)
            )
        )

    async def _maybe_repair(self, device: DeviceRef, namespace: Namespace) -> None:
        """The optional, rate-limited "repair broken sessions" answer (never during catch-up)."""
        if not self._settings().repair_broken_sessions or self._engine.catching_up:
            return
        last = self._repaired.get(device)
        if last is not None and time.monotonic() - last < REPAIR_INTERVAL_S:
            return
        self._repaired[device] = time.monotonic()
        await self._rebuild_locked(device, (namespace,))

    def _new_message(  # noqa: PLR0917 (one archive row from its parts)
        self,
        inbound: Inbound,
        routing: _Routing,
        keys: tuple[str, ...],
        body: str,
        namespace: Namespace | None,
        device: int | None,
        trust: TrustLevel | None,
        flags: dict[str, object],
    ) -> NewMessage:
        now = now_ms()
        return NewMessage(
            peer=routing.peer,
            direction=routing.direction,
            sender_bare_jid=routing.sender,
            body=body,
            timestamp=inbound.timestamp_ms or now,
            received_at=now,
            dedupe_keys=keys,
            sender_device=device,
            trust=trust,
            omemo_version=None if namespace is None else namespace.label,
            stanza_id=inbound.stanza_id,
            origin_id=inbound.origin_id,
            message_id=inbound.message_id,
            flags=flags,
            stamped=inbound.timestamp_ms is not None,
        )

    # --- outbound ---------------------------------------------------------------------

    async def prefs(self, peer: str) -> ChatPrefs:
        """A chat's remembered choices (read once, then kept: only `set_prefs` changes them,
        and the profile is open in one process at a time)."""
        cached = self._prefs.get(peer)
        if cached is None:
            cached = await self._runner.read(
                lambda uow: ChatPrefs.from_json(uow.settings.get(prefs_key(peer)))
            )
            self._prefs[peer] = cached
        return cached

    async def set_prefs(self, peer: str, prefs: ChatPrefs) -> None:
        """Remember a chat's choices."""
        await self._runner.write(lambda uow: uow.settings.set(prefs_key(peer), prefs.to_json()))
        self._prefs[peer] = prefs

    async def choose_version(self, peer: str, prefs: ChatPrefs) -> Namespace | None:
        """The chat's headline version: a per-chat override, else OMEMO 2 when the contact
        has OMEMO 2 devices, else 0.3, else None (no OMEMO). Without an override each device
        still gets a version it publishes (`service/versions.py`)."""
        if prefs.version is not None:
            return prefs.version
        for namespace in (Namespace.V2, Namespace.LEGACY):
            if (await self._directory.fetch_device_list(namespace, peer)).device_ids:
                return namespace
        return None

    async def send_text(self, peer: str, text: str, *, allow_plaintext: bool) -> SendReport:
        """Send `text` to `peer` (see the module docstring).

        Raises:
            SendFailed: nothing was sent; the report says who was skipped and why.
        """
        peer = bare_jid(peer)
        prefs = await self.prefs(peer)
        if allow_plaintext:
            if not prefs.plaintext:
                await self.set_prefs(peer, replace(prefs, plaintext=True))
            return await self._send_plain(peer, text)
        try:
            namespace = await self.choose_version(peer, prefs)
        except TransportError as error:
            raise SendFailed(
                f"could not fetch {peer}'s devices: {error}", SendReport(None, None)
            ) from error
        if namespace is None:
            if prefs.plaintext:
                return await self._send_plain(peer, text)
            raise SendFailed(
                f"{peer} publishes no OMEMO device; nothing was sent. Choose to send "
                "unencrypted to this contact explicitly if you want to.",
                SendReport(
                    None, None, (SkippedDevice(peer, None, SKIP_WORDS[SkipReason.NO_DEVICES]),)
                ),
            )
        return await self._send_encrypted(peer, text, namespace, prefs.version)

    async def _send_encrypted(
        self, peer: str, text: str, namespace: Namespace, forced: Namespace | None
    ) -> SendReport:
        """Queue one message for the next send group and wait for its report: the first
        caller to get the engine lock sends every message waiting then (`_send_group`)."""
        request = _SendRequest(
            peer, text, namespace, forced, asyncio.get_running_loop().create_future()
        )
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
        encrypted: list[_Encrypted] = []
        stage = _GroupStage.ENCRYPTING
        events: list[PendingEvent] = []
        try:
            known = await self._read_ahead(group)
            decider, events, stale = self.decider(known)
            encrypted = await self._encrypt_group(group, decider, stale)
            stage = _GroupStage.COMMITTING
            archive_ids = await self._commit_group(encrypted)
            stage = _GroupStage.HANDING_OVER
            for one, archive_id in zip(encrypted, archive_ids, strict=True):
                self._emit(sent_message(archive_id, one.message))
            for one, archive_id in zip(encrypted, archive_ids, strict=True):
                left = await self.outbox.send(archive_id, one.outbound)
                _resolve(one.request, one.report(archive_id, queued=not left))
            stage = _GroupStage.DONE
        except Exception as error:
            if stage is not _GroupStage.COMMITTING:
                raise
            stage = _GroupStage.DONE  # nothing was committed
            await self._send_one_by_one(encrypted, error)
        finally:
            self._runner.staged_state = StateChanges()
            self._runner.prefetched_state = {}
            self._emit_pending(events)
            self._settle(group, encrypted, stage)

    async def _send_one_by_one(self, encrypted: list[_Encrypted], error: Exception) -> None:
        """After a failed unit of work: a single message gets its error, several are each
        sent again in a group of their own."""
        if len(encrypted) == 1:
            _reject(encrypted[0].request, error)
            return
        for one in encrypted:
            try:
                await self._send_group([one.request])
            except Exception as again:  # that message's failure only
                _reject(one.request, again)

    def _settle(
        self, group: list[_SendRequest], encrypted: list[_Encrypted], stage: _GroupStage
    ) -> None:
        """After a group: requests left without an answer (the group was given up) go back
        to the queue if nothing of them was committed, else are reported queued."""
        unanswered = [request for request in group if not request.reply.done()]
        if not unanswered:
            return
        if stage is _GroupStage.DONE:
            return
        if stage is _GroupStage.ENCRYPTING:
            for request in unanswered:
                request.taken = False
            self._waiting[:0] = unanswered
            return
        self.outbox.stranded()
        for one in encrypted:
            _resolve(one.request, one.report(None, queued=True))

    async def _encrypt_group(
        self, group: list[_SendRequest], decider: TrustDecider, stale: set[DeviceRef]
    ) -> list[_Encrypted]:
        """Encrypt each message still wanted, staging its state for the next; a message that
        fails gets its `SendFailed` (or error) and stages nothing."""
        staged = StateChanges()
        self._runner.staged_state = staged
        encrypted: list[_Encrypted] = []
        for request in group:
            if request.reply.done():
                continue  # its caller gave up
            try:
                one = await self._encrypt_one(request, decider, stale)
            except Exception as error:  # this message's failure only
                _reject(request, error)
                continue
            staged.merge(one.changes)
            encrypted.append(one)
            await asyncio.sleep(0)  # a long group must not be one long loop step
        return encrypted

    async def _encrypt_one(
        self, request: _SendRequest, decider: TrustDecider, stale: set[DeviceRef]
    ) -> _Encrypted:
        """Encrypt one message for every trusted device (each in a version it publishes, or
        all in the forced one); nothing is committed.

        Raises:
            SendFailed: nothing can be sent.
        """
        peer, namespace, forced = request.peer, request.namespace, request.forced
        try:
            result = await encrypt_per_device(
                self._engine,
                self._directory,
                peer,
                self._payload(peer, request.text),
                decider,
                forced,
            )
        except (ProtocolError, TransportError) as error:
            raise SendFailed(
                f"encryption failed, nothing was sent: {error}", SendReport(None, namespace)
            ) from error
        skipped = self._skipped_devices(result.skipped, stale, forced)
        if not any(device.bare_jid == peer for device in result.recipients):
            raise SendFailed(
                f"no trusted device of {peer} can receive the message; nothing was sent",
                SendReport(None, namespace, skipped),
            )
        versions = result.namespaces
        message = self._outgoing(
            peer, request.text, request.message_id, versions, len(result.recipients)
        )
        hint = BODY_HINT if self._settings().add_body_hint else None
        elements = [each.element for each in result.results]
        outbound = Outbound(
            peer, request.message_id, elements[0], hint, elements[1] if len(elements) > 1 else None
        )
        return _Encrypted(request, message, outbound, skipped, versions, result.changes())

    async def _commit_group(self, encrypted: list[_Encrypted]) -> list[int]:
        """ONE unit of work: the group's final OMEMO state and every message's archive and
        outbox rows, in order. Returns the archive ids."""
        if not encrypted:
            return []
        changes = self._runner.staged_state

        def commit(uow: UnitOfWork) -> list[int]:
            apply_state_changes(uow, changes)
            return [archive_pending(uow, one.message, one.outbound) for one in encrypted]

        return await self._runner.write(commit)

    def _emit_pending(self, events: Iterable[PendingEvent]) -> None:
        for event in events:
            self._emit(
                SecurityEventRaised(
                    SecurityEvent(event.kind, event.bare_jid, event.device_id, event.detail)
                )
            )

    async def _read_ahead(self, group: Sequence[_SendRequest]) -> KnownTrust:
        """Read, in ONE trip to the DB thread, our sessions with the listed devices of the
        group's contacts and our own (a device's headline version, else the other one) and
        the trust stored for them (ours only when we have other devices); the sessions go to
        `prefetched_state` (the caller empties it), the trust is returned for the decider.
        The lists are the ones the encryption uses (cached by the directory)."""
        keys: list[str] = []
        jids = dict.fromkeys(request.peer for request in group)
        for request in group:
            for jid in (request.peer, self.own):
                listed = await self._listed(request.namespace, jid)
                keys += [
                    session_key(namespace, DeviceRef(jid, device_id))
                    for namespace, device_id in listed
                ]
                if jid == self.own and listed:
                    jids[jid] = None
        own = self.own if self.own in jids and self._settings().ignore_stale_devices else None

        def read(uow: UnitOfWork) -> tuple[dict[str, str | None], KnownTrust]:
            return read_ahead(uow, dict.fromkeys(keys)), read_known_trust(uow, jids, own)

        self._runner.prefetched_state, known = await self._runner.read(read)
        return known

    async def _listed(self, namespace: Namespace, jid: str) -> list[tuple[Namespace, int]]:
        """The devices of `jid` a message may encrypt for, with the version each likely gets:
        those on its `namespace` list, then those only on the other one; never this device.
        Empty when a list cannot be fetched (the encryption fetches again and reports it)."""
        try:
            first = (await self._directory.fetch_device_list(namespace, jid)).device_ids
            other = (
                await self._directory.fetch_device_list(other_version(namespace), jid)
            ).device_ids
        except TransportError:
            return []
        listed = [(namespace, device_id) for device_id in sorted(first)]
        listed += [(other_version(namespace), device_id) for device_id in sorted(other - first)]
        own = self._engine.own_device
        return [(ns, device_id) for ns, device_id in listed if DeviceRef(jid, device_id) != own]

    def _payload(self, peer: str, text: str) -> Callable[[Namespace], bytes]:
        """The plaintext per version: 0.3 the body, OMEMO 2 an SCE envelope."""

        def payload(namespace: Namespace) -> bytes:
            if namespace is Namespace.LEGACY:
                return text.encode("utf-8")
            return self._transport.build_envelope(text, to=peer, sender=self.own)

        return payload

    @staticmethod
    def _skipped_devices(
        skipped: Mapping[DeviceRef, SkipReason], stale: set[DeviceRef], forced: Namespace | None
    ) -> tuple[SkippedDevice, ...]:
        """The report's skipped devices: stale own devices under their own reason, devices
        of the other version named with the version the chat is set to."""
        rows = []
        for device, reason in skipped.items():
            code = SkipReason.STALE if device in stale else reason
            words = SKIP_WORDS[code]
            if code is SkipReason.OTHER_VERSION and forced is not None:
                words = (
                    f"publishes only OMEMO {other_version(forced).label} "
                    f"(this chat is set to OMEMO {forced.label})"
                )
            rows.append(SkippedDevice(device.bare_jid, device.device_id or None, words, code.value))
        return tuple(rows)

    def _outgoing(
        self,
        peer: str,
        text: str,
        message_id: str,
        versions: tuple[Namespace, ...],
        recipients: int,
    ) -> NewMessage:
        """Our archive row of a sent message (its version: the one the contact got)."""
        now = now_ms()
        flags: dict[str, object] = {"recipients": recipients}
        if len(versions) > 1:
            flags["versions"] = [namespace.label for namespace in versions]
        return NewMessage(
            peer=peer,
            direction=Direction.OUT,
            sender_bare_jid=self.own,
            body=text,
            timestamp=now,
            received_at=now,
            dedupe_keys=(f"oid:{self.own}:{message_id}",),
            sender_device=self._engine.device_id,
            trust=TrustLevel.VERIFIED,
            omemo_version=versions[0].label,
            origin_id=message_id,
            message_id=message_id,
            flags=flags,
        )

    def decider(
        self, known: KnownTrust | None = None
    ) -> tuple[TrustDecider, list[PendingEvent], set[DeviceRef]]:
        """A `TrustDecider` that records new identities (BTBV) and skips stale own devices.

        Args:
            known: trust read ahead (`read_known_trust`): a known identity is decided from it
                without a trip to the DB thread. Without it every decision reads the store.

        Returns:
            The decider, the list it fills with security events to emit after the send, and
            the set it fills with the own devices it skipped as stale.
        """
        settings = self._settings()
        events: list[PendingEvent] = []
        stale: set[DeviceRef] = set()
        own = self.own
        stale_ms = settings.stale_after_hours * 3600 * 1000
        mode = TrustMode(settings.trust_mode)
        check_stale = settings.ignore_stale_devices

        def judge(
            device: DeviceRef, level: TrustLevel, own_devices: Iterable[DeviceRecord]
        ) -> TrustLevel:
            if device.bare_jid == own and check_stale:
                now = now_ms()
                if any(
                    record.device_id == device.device_id
                    and now - (record.last_message or record.first_seen) > stale_ms
                    for record in own_devices
                ):
                    stale.add(device)
                    return TrustLevel.UNDECIDED
            return effective_level(level, mode)

        def own_records(uow: UnitOfWork, device: DeviceRef) -> list[DeviceRecord]:
            return uow.devices.of(own) if device.bare_jid == own and check_stale else []

        def decide(device: DeviceRef, identity_key: bytes) -> tuple[TrustLevel, list[DeviceRecord]]:
            """On the DB thread: a known identity is only read (no write transaction per
            send); a new or changed one is recorded, with its events, in a unit of work."""
            database = self._runner.database
            with database.snapshot() as uow:
                level = uow.trust.get(device.bare_jid, device.device_id, identity_key)
                if level is not None:
                    return level, own_records(uow, device)
            with database.unit_of_work() as uow:
                level, new_events = observe_identity(uow, device, identity_key, mode, now_ms())
                events.extend(new_events)
                return level, own_records(uow, device)

        async def ask(device: DeviceRef, identity_key: bytes) -> TrustLevel:
            level, records = await self._runner.run(decide, device, identity_key)
            if known is not None:
                known.remember(device, identity_key, level)
            return judge(device, level, records)

        def decider(device: DeviceRef, identity_key: bytes) -> TrustLevel | Awaitable[TrustLevel]:
            level = None if known is None else known.level(device, identity_key)
            if level is not None and known is not None:
                return judge(device, level, known.own_devices)
            return ask(device, identity_key)

        return decider, events, stale

    async def _send_plain(self, peer: str, text: str) -> SendReport:
        """The explicitly chosen unencrypted send."""
        message_id = new_message_id()
        now = now_ms()
        message = NewMessage(
            peer=peer,
            direction=Direction.OUT,
            sender_bare_jid=self.own,
            body=text,
            timestamp=now,
            received_at=now,
            dedupe_keys=(f"oid:{self.own}:{message_id}",),
            origin_id=message_id,
            message_id=message_id,
            flags={"plaintext_chosen": True},
        )
        outbound = Outbound(peer, message_id, None, text)
        archive_id = await self._runner.write(lambda uow: archive_pending(uow, message, outbound))
        self._emit(sent_message(archive_id, message))
        left = await self.outbox.send(archive_id, outbound)
        return SendReport(archive_id, None, queued=not left)

    # --- empty messages, rebuilds, publishing ------------------------------------------

    async def send_empty(self, namespace: Namespace, device: DeviceRef) -> None:
        """Send an empty (key-transport) message to one device."""
        async with self._lock:
            await self.send_empty_locked(namespace, device)

    async def send_empty_locked(self, namespace: Namespace, device: DeviceRef) -> None:
        """`send_empty` for callers already holding the engine lock."""
        result = await self._engine.encrypt(
            namespace, [device], None, lambda _d, _k: TrustLevel.VERIFIED
        )
        if not result.recipients:
            return
        await self._runner.write(lambda uow: apply_state_changes(uow, result.changes))
        await self._transport.send(Outbound(device.bare_jid, new_message_id(), result.element))

    async def rebuild_session(self, device: DeviceRef) -> None:
        """Forget the sessions with `device` and start new ones with an empty message."""
        async with self._lock:
            await self._rebuild_locked(device, tuple(Namespace))

    async def _rebuild_locked(self, device: DeviceRef, namespaces: tuple[Namespace, ...]) -> None:
        for namespace in namespaces:
            if not (
                await self._directory.fetch_device_list(namespace, device.bare_jid)
            ).device_ids & {device.device_id}:
                continue
            result = await self._engine.rebuild_session(namespace, device)
            await self._commit_changes(result.changes)  # deletion + new session: one unit
            if result.recipients:
                await self._transport.send(
                    Outbound(device.bare_jid, new_message_id(), result.element)
                )

    async def _commit_changes(self, changes: StateChanges) -> None:
        if changes:
            await self._runner.write(lambda uow: apply_state_changes(uow, changes))

    async def learn_identity(
        self, namespace: Namespace, device: DeviceRef, mode: TrustMode
    ) -> str | None:
        """Fetch one device's bundle and record its identity key (BTBV applies to a device
        seen for the first time); the security events are emitted.

        Returns:
            None, or why the identity key could not be learned, in words.
        """
        try:
            bundle = await self._directory.fetch_bundle(
                namespace, device.bare_jid, device.device_id
            )
            identity_key = version_for(namespace).parse_bundle(bundle).identity_key_curve
        except BundleUnavailable:
            return f"no key bundle for device {device.device_id}"
        except ProtocolError:
            return f"the key bundle of device {device.device_id} is invalid"
        now = now_ms()
        _level, events = await self._runner.write(
            lambda uow: observe_identity(uow, device, identity_key, mode, now)
        )
        for event in events:
            self._emit(
                SecurityEventRaised(
                    SecurityEvent(event.kind, event.bare_jid, event.device_id, event.detail)
                )
            )
        return None

    async def publish_bundle(self, namespace: Namespace) -> None:
        """Publish our current bundle of one namespace."""
        bundle = await self._engine.bundle(namespace)
        await self._transport.publish_bundle(self._engine.device_id, bundle)

    async def publish_own(self) -> None:
        """Maintain prekeys (rotation per settings, refill), publish both bundles and our
        device on both (merged) device lists."""
        async with self._lock:
            changes, _changed = await self._engine.maintain()
            if changes:
                await self._runner.write(lambda uow: apply_state_changes(uow, changes))
        for namespace in Namespace:
            await self.publish_bundle(namespace)
            await self.publish_device_list(namespace)

    async def publish_device_list(self, namespace: Namespace) -> None:
        """Put our device on our own device list of `namespace`: the list on the server,
        merged (every other id kept), published only when ours was missing."""
        server = await self._transport.fetch_device_list(namespace, self.own)
        merged = merge_device_list(namespace, server, [await self.own_entry(namespace, server)])
        if merged is None:
            return
        await self._transport.publish_device_list(merged)
        self._directory.invalidate(self.own)

    async def own_entry(self, namespace: Namespace, server: DeviceList | None) -> DeviceListEntry:
        """Our entry on our device list of `namespace` (OMEMO 2: with our signed label)."""
        label = await self._runner.read(device_label)
        return own_entry(
            namespace, self._engine.device_id, label, self._engine.sign_device_label, server
        )
