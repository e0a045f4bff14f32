"""The inbound and outbound pipelines of 1:1 OMEMO chat (DESIGN.md §3.1–3.5).

Inbound, per stanza: authenticate the path (carbons only from our own bare JID, MAM results
only for queries we opened) → write it to the inbox, still ciphertext → skip it silently when
a dedupe key is known → decrypt (the engine works on copies, nothing is written) → ONE unit of
work with the engine's state changes (session, consumed prekey), the archive row with the
plaintext, its dedupe keys, trust records, the device's `last_message` and the inbox deletion
→ events. A crash anywhere leaves the stanza in the inbox (retried by `drain_inbox`) or
everything committed. A failed decryption commits only a failure row (no plaintext, no state)
and a security event.

Outbound: choose the version, encrypt for the trusted devices of the contact and our own other
devices, commit the advanced sending chains together with our archived plaintext, and only then
hand the stanza to the transport. With no usable recipient nothing leaves (`SendFailed`);
plaintext goes out only by an explicit, remembered per-chat choice.

Every engine operation runs under one lock, so one operation's changes are committed before the
next operation reads the same session (the engine keeps no mutable cache).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from tui_omemo.config import Settings
from tui_omemo.events import SecurityEvent, SecurityEventKind
from tui_omemo.model import DeviceRef, Namespace, TrustLevel, bare_jid
from tui_omemo.protocol.elements import DeviceListEntry, EncryptedElement
from tui_omemo.protocol.engine import DecryptResult, Engine, TrustDecider
from tui_omemo.protocol.errors import (
    BundleUnavailable,
    Duplicate,
    NotForThisDevice,
    ProtocolError,
)
from tui_omemo.protocol.ports import StateChanges
from tui_omemo.protocol.results import SkipReason
from tui_omemo.protocol.trust import TrustMode
from tui_omemo.protocol.version import version_for
from tui_omemo.service import crashpoints
from tui_omemo.service.api import (
    ChatMessage,
    MessageReceived,
    MessageTrust,
    SecurityEventRaised,
    SendFailed,
    SendReport,
    ServiceEvent,
    SkippedDevice,
)
from tui_omemo.service.directory import CachingDirectory
from tui_omemo.service.runner import DbRunner
from tui_omemo.service.state import apply_state_changes
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
    Direction,
    InboxItem,
    InboxSource,
    NewMessage,
    UnitOfWork,
)
from tui_omemo.xmpp.translate import merge_device_list

log = logging.getLogger(__name__)

BODY_HINT = "I sent you an OMEMO encrypted message but your client doesn't support it."
REPAIR_INTERVAL_S = 3600.0
LAST_STANZA_ID = "mam/last_stanza_id"
"""Settings key: the stanza-id of our archive where the next MAM catch-up starts."""
INBOX_BATCH = 100

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
        return {"plaintext": self.plaintext,
                "version": None if self.version is None else self.version.value}

    @classmethod
    def from_json(cls, value: object) -> ChatPrefs:
        """Read the stored form (anything unreadable gives the defaults)."""
        if not isinstance(value, dict):
            return cls()
        version = value.get("version")
        return cls(bool(value.get("plaintext", False)),
                   Namespace(version) if version in {n.value for n in Namespace} else None)


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
        archive_id=row.id, peer=row.peer, outgoing=row.direction is Direction.OUT,
        sender=row.sender_bare_jid, time=datetime.fromtimestamp(row.timestamp / 1000, UTC),
        body=row.body, trust=trust, omemo=omemo, sender_device_id=row.sender_device,
        nick=row.nick, failure=failure if isinstance(failure, str) else None,
    )


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
        self.groupchat_retry: Callable[[InboxItem, Inbound], Awaitable[None]] | None = None
        """Where `drain_inbox` hands groupchat rows (the group-chat component, issue 5)."""
        self.unread: dict[str, int] = {}

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
        """Process queued live stanzas one at a time, forever (cancel to stop)."""
        await self._live.wait()
        while True:
            inbound = await self._queue.get()
            try:
                await self.accept_safely(inbound)
            finally:
                self._queue.task_done()

    async def accept_safely(self, inbound: Inbound) -> None:
        """`accept`, but an unexpected failure (network down while refetching a device list,
        a storage error) is logged and leaves the stanza in the inbox for the next start."""
        try:
            await self.accept(inbound)
        except Exception as error:  # one bad stanza must not stop the pipeline
            log.warning("an incoming stanza stays in the inbox: %s", type(error).__name__)

    async def wait_idle(self) -> None:
        """Wait until every queued live stanza is processed (tests, shutdown)."""
        await self._queue.join()

    async def accept(self, inbound: Inbound) -> None:
        """Check the path, keep the stanza in the inbox, then process it."""
        rejection = self._path_rejection(inbound)
        if rejection is not None:
            await self._security_event(PendingEvent(
                SecurityEventKind.DECRYPTION_FAILED, bare_jid(inbound.wrapper_from or
                                                              inbound.sender), None, rejection))
            return
        if inbound.message_type == "groupchat" or (
                inbound.encrypted is None and inbound.malformed is None and not inbound.body):
            return
        raw = inbound.to_bytes()
        inbox_id = await self._runner.write(
            lambda uow: uow.inbox.add(raw, inbound.source, now_ms()))
        crashpoints.crash_point(crashpoints.AFTER_INBOX_WRITE)
        await self.process(inbox_id, inbound, attempts=0)

    def _advance_archive_position(self, uow: UnitOfWork, inbound: Inbound) -> None:
        """Move the MAM catch-up start past a live/offline message (not while catching up,
        when `history.CatchUp` moves it page by page)."""
        if inbound.stanza_id and inbound.source is not InboxSource.MAM \
                and not self._engine.catching_up:
            uow.settings.set(LAST_STANZA_ID, inbound.stanza_id)

    def _path_rejection(self, inbound: Inbound) -> str | None:
        """Why a stanza's path is not authentic (DESIGN.md §3.6), or None."""
        own = self.own
        match inbound.wrapper:
            case Wrapper.CARBON_RECEIVED | Wrapper.CARBON_SENT:
                if bare_jid(inbound.wrapper_from or "") != own:
                    return (f"rejected a carbon copy sent by {bare_jid(inbound.wrapper_from or '')}"
                            ": carbons are only accepted from our own account")
            case Wrapper.MAM:
                if not inbound.solicited:
                    return "rejected an archive result for a query we never opened"
                if bare_jid(inbound.wrapper_from or own) != own:
                    return "rejected an archive result from another account's archive"
            case Wrapper.NONE:
                pass
        return None

    async def drain_inbox(self) -> int:
        """Process every stanza left in the inbox (crash recovery at start-up).

        Returns:
            How many rows were handled (processed or left for later).
        """
        handled = 0
        seen: set[int] = set()
        while True:
            items: list[InboxItem] = await self._runner.read(
                lambda uow: uow.inbox.pending(INBOX_BATCH + len(seen)))
            fresh = [item for item in items if item.id not in seen]
            if not fresh:
                return handled
            for item in fresh:
                seen.add(item.id)
                handled += 1
                try:
                    await self._retry(item)
                except Exception as error:  # left in the inbox for the next start
                    log.warning("an inbox row stays for later: %s", type(error).__name__)

    async def _retry(self, item: InboxItem) -> None:
        try:
            inbound = Inbound.from_bytes(item.stanza)
        except (ValueError, KeyError, TypeError):
            await self._runner.write(lambda uow: uow.inbox.delete(item.id))
            return
        if inbound.message_type == "groupchat":
            if self.groupchat_retry is not None:  # rows of the group-chat component
                await self.groupchat_retry(item, inbound)
            return  # without it, the row waits for a start that has one
        await self.process(item.id, inbound, attempts=item.attempts + 1)

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
                keys.append(f"omemo:{element.namespace.label}:{routing.sender}:"
                            f"{element.sender_device_id}:{digest}")
        return tuple(keys)

    async def process(self, inbox_id: int, inbound: Inbound, *, attempts: int) -> None:
        """Decrypt and commit one inbox row (see the module docstring)."""
        routing = self._routing(inbound)
        keys = self._dedupe_keys(inbound, routing)
        async with self._lock:
            seen = await self._runner.read(lambda uow: uow.dedupe.seen(keys)) if keys else None
            if seen is not None:
                await self._runner.write(lambda uow: uow.inbox.delete(inbox_id))
                return
            if inbound.encrypted is None:
                await self._plain_or_malformed(inbox_id, inbound, routing, keys)
                return
            await self._encrypted(inbox_id, inbound, inbound.encrypted, routing, keys,
                                  attempts=attempts)

    async def _plain_or_malformed(
        self, inbox_id: int, inbound: Inbound, routing: _Routing, keys: tuple[str, ...]
    ) -> None:
        if inbound.malformed is not None:
            await self._fail(inbox_id, inbound, routing, keys, None, inbound.malformed)
            return
        if not keys:
            seed = f"{inbound.body or ''}\x00{inbound.timestamp_ms}".encode()
            keys = (f"plain:{routing.sender}:{hashlib.sha256(seed).hexdigest()[:32]}",)
        encrypted_chat = await self._is_encrypted_chat(routing.peer)
        flags: dict[str, object] = {}
        events: list[PendingEvent] = []
        if encrypted_chat and routing.direction is Direction.IN:
            flags["warning"] = "unencrypted message in an encrypted chat"
            events.append(PendingEvent(
                SecurityEventKind.PLAINTEXT_IN_ENCRYPTED_CHAT, routing.peer, None,
                f"{routing.sender} sent an unencrypted message in an encrypted chat"))
        message = self._new_message(inbound, routing, keys, inbound.body or "", None, None,
                                    None, flags)
        await self._commit(inbox_id, message, inbound, events)

    async def _is_encrypted_chat(self, peer: str) -> bool:
        """A chat is encrypted when the peer is known to have OMEMO devices and the user has
        not chosen plaintext for it; plaintext from a contact who never used OMEMO is only
        marked unencrypted, without a security event per message."""
        def check(uow: UnitOfWork) -> bool:
            prefs = ChatPrefs.from_json(uow.settings.get(prefs_key(peer)))
            return not prefs.plaintext and bool(uow.devices.of(peer))
        return await self._runner.read(check)

    async def _encrypted(
        self,
        inbox_id: int,
        inbound: Inbound,
        element: EncryptedElement,
        routing: _Routing,
        keys: tuple[str, ...],
        *,
        attempts: int,
    ) -> None:
        sender = DeviceRef(routing.sender, element.sender_device_id)
        if routing.sender == self.own and element.sender_device_id == self._engine.device_id:
            await self._runner.write(lambda uow: uow.inbox.delete(inbox_id))  # our own echo
            return
        if not await self._directory.is_listed(element.namespace, sender):
            await self._unlisted(inbox_id, sender, element.namespace, attempts)
            return
        try:
            result = await self._engine.decrypt(element, routing.sender)
        except Duplicate:
            await self._runner.write(lambda uow: uow.inbox.delete(inbox_id))
            return
        except NotForThisDevice:
            if element.payload is None:  # an empty message for another device of ours
                await self._runner.write(lambda uow: uow.inbox.delete(inbox_id))
                return
            await self._fail(inbox_id, inbound, routing, keys, element,
                             "the message was not encrypted for this device")
            return
        except ProtocolError as error:
            await self._fail(inbox_id, inbound, routing, keys, element,
                             f"{type(error).__name__}: {error}"[:200])
            await self._maybe_repair(sender, element.namespace)
            return
        crashpoints.crash_point(crashpoints.AFTER_DECRYPT)
        await self._decrypted(inbox_id, inbound, routing, keys, result)

    async def _decrypted(
        self,
        inbox_id: int,
        inbound: Inbound,
        routing: _Routing,
        keys: tuple[str, ...],
        result: DecryptResult,
    ) -> None:
        body: str | None = None
        if result.plaintext is not None:
            try:
                body = self._body(result, routing)
            except ValueError as error:
                await self._fail(inbox_id, inbound, routing, keys, inbound.encrypted, str(error))
                return
        mode = TrustMode(self._settings().trust_mode)
        sender = result.sender
        now = now_ms()

        def commit(uow: UnitOfWork) -> tuple[ArchivedMessage | None, list[PendingEvent]]:
            level, events = observe_identity(uow, sender, result.sender_identity_key, mode, now)
            apply_state_changes(uow, result.changes)
            uow.devices.touch_message(result.namespace, sender.bare_jid, sender.device_id, now)
            archive_id = None
            if body is not None:
                mark = message_trust(level, mode)
                message = self._new_message(inbound, routing, keys, body, result.namespace,
                                            sender.device_id, stored_trust_for_mark(mark), {})
                archive_id = uow.archive.append(message)
            uow.inbox.delete(inbox_id)
            self._advance_archive_position(uow, inbound)
            row = None if archive_id is None else uow.archive.get(archive_id)
            crashpoints.crash_point(crashpoints.BEFORE_COMMIT)
            return row, events

        row, events = await self._runner.write(commit)
        crashpoints.crash_point(crashpoints.AFTER_COMMIT)
        await self._after_commit(row, events)
        await self.after_decrypt(result)

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

    async def _fail(  # noqa: PLR0917
        self,
        inbox_id: int,
        inbound: Inbound,
        routing: _Routing,
        keys: tuple[str, ...],
        element: EncryptedElement | None,
        reason: str,
    ) -> None:
        """Archive a failure row (no plaintext, no OMEMO state) and raise a security event.

        An empty (key-transport) message carried no text: only the event is kept, no row.
        """
        if element is not None and element.payload is None:
            event = PendingEvent(
                SecurityEventKind.DECRYPTION_FAILED, routing.sender, element.sender_device_id,
                f"an empty OMEMO message from {routing.sender} could not be decrypted: {reason}")
            await self._runner.write(lambda uow: uow.inbox.delete(inbox_id))
            await self._security_event(event)
            return
        # Only keys a forger cannot pre-empt: our server's stanza-id and the ratchet message
        # itself. A forged origin-id must never block the genuine message arriving later.
        keys = tuple(key for key in keys if key.startswith(("sid:", "omemo:")))
        if not keys:
            keys = (f"fail:{routing.sender}:{inbox_id}:{now_ms()}",)
        device = None if element is None else element.sender_device_id
        namespace = None if element is None else element.namespace
        message = self._new_message(inbound, routing, keys, "", namespace, device, None,
                                    {"failure": reason})
        event = PendingEvent(SecurityEventKind.DECRYPTION_FAILED, routing.sender, device,
                             f"a message from {routing.sender} could not be decrypted: {reason}")
        await self._commit(inbox_id, message, inbound, [event])

    async def _commit(
        self,
        inbox_id: int,
        message: NewMessage,
        inbound: Inbound,
        events: list[PendingEvent],
    ) -> None:
        now = now_ms()

        def commit(uow: UnitOfWork) -> ArchivedMessage | None:
            archive_id = uow.archive.append(message)
            for event in events:
                record_event(uow, event, now)
            uow.inbox.delete(inbox_id)
            self._advance_archive_position(uow, inbound)
            crashpoints.crash_point(crashpoints.BEFORE_COMMIT)
            return uow.archive.get(archive_id)

        row = await self._runner.write(commit)
        crashpoints.crash_point(crashpoints.AFTER_COMMIT)
        await self._after_commit(row, events)

    async def _after_commit(
        self, row: ArchivedMessage | None, events: Iterable[PendingEvent]
    ) -> None:
        """Emit what a committed unit of work produced (the row was read inside it)."""
        for event in events:
            self._emit(SecurityEventRaised(SecurityEvent(event.kind, event.bare_jid,
                                                         event.device_id, event.detail)))
        if row is None:
            return
        if row.direction is Direction.IN:
            self.unread[row.peer] = self.unread.get(row.peer, 0) + 1
        self._emit(MessageReceived(to_chat_message(row)))

    async def _unlisted(
        self, inbox_id: int, sender: DeviceRef, namespace: Namespace, attempts: int
    ) -> None:
        """A device not on its owner's list: keep the stanza (nothing lost, nothing decrypted)."""
        reason = f"device {sender.device_id} is not on {sender.bare_jid}'s device list"
        await self._runner.write(lambda uow: uow.inbox.record_failure(inbox_id, reason))
        if attempts == 0:
            await self._security_event(PendingEvent(
                SecurityEventKind.DECRYPTION_FAILED, sender.bare_jid, sender.device_id,
                f"a {namespace.label} message from {reason}; it is kept unread until the "
                "device appears on the list"))

    async def _security_event(self, event: PendingEvent) -> None:
        await self._runner.write(lambda uow: record_event(uow, event, now_ms()))
        self._emit(SecurityEventRaised(SecurityEvent(event.kind, event.bare_jid,
                                                     event.device_id, event.detail)))

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
            peer=routing.peer, direction=routing.direction, sender_bare_jid=routing.sender,
            body=body, timestamp=inbound.timestamp_ms or now, received_at=now,
            dedupe_keys=keys, sender_device=device, trust=trust,
            omemo_version=None if namespace is None else namespace.label,
            stanza_id=inbound.stanza_id, origin_id=inbound.origin_id,
            message_id=inbound.message_id, flags=flags,
        )

    # --- outbound ---------------------------------------------------------------------

    async def prefs(self, peer: str) -> ChatPrefs:
        """A chat's remembered choices."""
        return await self._runner.read(
            lambda uow: ChatPrefs.from_json(uow.settings.get(prefs_key(peer))))

    async def set_prefs(self, peer: str, prefs: ChatPrefs) -> None:
        """Remember a chat's choices."""
        await self._runner.write(lambda uow: uow.settings.set(prefs_key(peer), prefs.to_json()))

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
            raise SendFailed(f"could not fetch {peer}'s devices: {error}",
                             SendReport(None, None)) from error
        if namespace is None:
            if prefs.plaintext:
                return await self._send_plain(peer, text)
            raise SendFailed(
                f"{peer} publishes no OMEMO device; nothing was sent. Choose to send "
                "unencrypted to this contact explicitly if you want to.",
                SendReport(None, None, (SkippedDevice(peer, None, SKIP_WORDS[
                    SkipReason.NO_DEVICES]),)))
        return await self._send_encrypted(peer, text, namespace, prefs.version)

    async def _send_encrypted(self, peer: str, text: str, namespace: Namespace,
                              forced: Namespace | None) -> SendReport:
        """Encrypt for every trusted device (each in a version it publishes, or all in the
        `forced` one), commit the sending chains with the archived plaintext, then send one
        stanza."""
        message_id = new_message_id()
        async with self._lock:
            decider, events, stale = self.decider()
            try:
                result = await encrypt_per_device(self._engine, self._directory, peer,
                                                  self._payload(peer, text), decider, forced)
            except (ProtocolError, TransportError) as error:
                raise SendFailed(f"encryption failed, nothing was sent: {error}",
                                 SendReport(None, namespace)) from error
            skipped = self._skipped_devices(result.skipped, stale, forced)
            if not any(device.bare_jid == peer for device in result.recipients):
                raise SendFailed(f"no trusted device of {peer} can receive the message; "
                                 "nothing was sent", SendReport(None, namespace, skipped))
            versions = result.namespaces
            message = self._outgoing(peer, text, message_id, versions, len(result.recipients))
            changes = result.changes()

            def commit(uow: UnitOfWork) -> int:
                apply_state_changes(uow, changes)
                return uow.archive.append(message)

            archive_id = await self._runner.write(commit)
            hint = BODY_HINT if (Namespace.LEGACY in versions
                                 and self._settings().add_body_hint) else None
            elements = [each.element for each in result.results]
            await self._transport.send(Outbound(peer, message_id, elements[0], hint,
                                                elements[1] if len(elements) > 1 else None))
        for event in events:
            self._emit(SecurityEventRaised(SecurityEvent(event.kind, event.bare_jid,
                                                         event.device_id, event.detail)))
        return SendReport(archive_id, versions[0], skipped, versions)

    def _payload(self, peer: str, text: str) -> Callable[[Namespace], bytes]:
        """The plaintext per version: 0.3 the body, OMEMO 2 an SCE envelope."""
        def payload(namespace: Namespace) -> bytes:
            if namespace is Namespace.LEGACY:
                return text.encode("utf-8")
            return self._transport.build_envelope(text, to=peer, sender=self.own)
        return payload

    @staticmethod
    def _skipped_devices(skipped: Mapping[DeviceRef, SkipReason], stale: set[DeviceRef],
                         forced: Namespace | None) -> tuple[SkippedDevice, ...]:
        """The report's skipped devices: stale own devices under their own reason, devices
        of the other version named with the version the chat is set to."""
        rows = []
        for device, reason in skipped.items():
            code = SkipReason.STALE if device in stale else reason
            words = SKIP_WORDS[code]
            if code is SkipReason.OTHER_VERSION and forced is not None:
                words = (f"publishes only OMEMO {other_version(forced).label} "
                         f"(this chat is set to OMEMO {forced.label})")
            rows.append(SkippedDevice(device.bare_jid, device.device_id or None, words,
                                      code.value))
        return tuple(rows)

    def _outgoing(self, peer: str, text: str, message_id: str,
                  versions: tuple[Namespace, ...], recipients: int) -> NewMessage:
        """Our archive row of a sent message (its version: the one the contact got)."""
        now = now_ms()
        flags: dict[str, object] = {"recipients": recipients}
        if len(versions) > 1:
            flags["versions"] = [namespace.label for namespace in versions]
        return NewMessage(
            peer=peer, direction=Direction.OUT, sender_bare_jid=self.own, body=text,
            timestamp=now, received_at=now, dedupe_keys=(f"oid:{self.own}:{message_id}",),
            sender_device=self._engine.device_id, trust=TrustLevel.VERIFIED,
            omemo_version=versions[0].label, origin_id=message_id, message_id=message_id,
            flags=flags,
        )

    def decider(self) -> tuple[TrustDecider, list[PendingEvent], set[DeviceRef]]:
        """A `TrustDecider` that records new identities (BTBV) and skips stale own devices.

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

        def decide(uow: UnitOfWork, device: DeviceRef, identity_key: bytes) -> TrustLevel:
            now = now_ms()
            level, new_events = observe_identity(uow, device, identity_key, mode, now)
            events.extend(new_events)
            if device.bare_jid == own and settings.ignore_stale_devices:
                for record in uow.devices.of(own):
                    last = record.last_message or record.first_seen
                    if record.device_id == device.device_id and now - last > stale_ms:
                        stale.add(device)
                        return TrustLevel.UNDECIDED
            return effective_level(level, mode)

        async def decider(device: DeviceRef, identity_key: bytes) -> TrustLevel:
            return await self._runner.write(lambda uow: decide(uow, device, identity_key))

        return decider, events, stale

    async def _send_plain(self, peer: str, text: str) -> SendReport:
        """The explicitly chosen unencrypted send."""
        message_id = new_message_id()
        now = now_ms()
        message = NewMessage(
            peer=peer, direction=Direction.OUT, sender_bare_jid=self.own, body=text,
            timestamp=now, received_at=now, dedupe_keys=(f"oid:{self.own}:{message_id}",),
            origin_id=message_id, message_id=message_id, flags={"plaintext_chosen": True},
        )
        archive_id = await self._runner.write(lambda uow: uow.archive.append(message))
        await self._transport.send(Outbound(peer, message_id, None, text))
        return SendReport(archive_id, None)

    # --- empty messages, rebuilds, publishing ------------------------------------------

    async def send_empty(self, namespace: Namespace, device: DeviceRef) -> None:
        """Send an empty (key-transport) message to one device."""
        async with self._lock:
            await self.send_empty_locked(namespace, device)

    async def send_empty_locked(self, namespace: Namespace, device: DeviceRef) -> None:
        """`send_empty` for callers already holding the engine lock."""
        result = await self._engine.encrypt(namespace, [device], None,
                                            lambda _d, _k: TrustLevel.VERIFIED)
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
            if not (await self._directory.fetch_device_list(namespace, device.bare_jid)
                    ).device_ids & {device.device_id}:
                continue
            result = await self._engine.rebuild_session(namespace, device)
            await self._commit_changes(result.changes)  # deletion + new session: one unit
            if result.recipients:
                await self._transport.send(
                    Outbound(device.bare_jid, new_message_id(), result.element))

    async def _commit_changes(self, changes: StateChanges) -> None:
        if changes:
            await self._runner.write(lambda uow: apply_state_changes(uow, changes))

    async def learn_identity(self, namespace: Namespace, device: DeviceRef,
                             mode: TrustMode) -> str | None:
        """Fetch one device's bundle and record its identity key (BTBV applies to a device
        seen for the first time); the security events are emitted.

        Returns:
            None, or why the identity key could not be learned, in words.
        """
        try:
            bundle = await self._directory.fetch_bundle(namespace, device.bare_jid,
                                                        device.device_id)
            identity_key = version_for(namespace).parse_bundle(bundle).identity_key_curve
        except BundleUnavailable:
            return f"no key bundle for device {device.device_id}"
        except ProtocolError:
            return f"the key bundle of device {device.device_id} is invalid"
        now = now_ms()
        _level, events = await self._runner.write(
            lambda uow: observe_identity(uow, device, identity_key, mode, now))
        for event in events:
            self._emit(SecurityEventRaised(SecurityEvent(event.kind, event.bare_jid,
                                                         event.device_id, event.detail)))
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
        merged = merge_device_list(namespace, server, [DeviceListEntry(self._engine.device_id)])
        if merged is None:
            return
        await self._transport.publish_device_list(merged)
        self._directory.invalidate(self.own)
