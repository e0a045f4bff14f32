"""`Session`: the 1:1 conversations of one account, over the shared pipelines.

It owns what is 1:1 only and hands the rest to the parts it is built from: the inbound
pipeline (`service/inbound.py`) and the outbound one (`service/outbound.py`), both run with
the `direct` conversation policy (`service/conversation.py`); own-device upkeep
(`service/upkeep.py`); trust decisions (`service/trust.py`). The rooms module
(`service/muc.py`) uses the same pipelines, lock and staging with the `room` policy.

Inbound: the transport's handler (`enqueue`) puts 1:1 stanzas on the live queue and hands
groupchat stanzas to the rooms module (no detour of 1:1 stanzas through it). The worker
authenticates each path (carbons only from our own bare JID, MAM results only for queries we
opened), writes the new stanzas to the inbox in one write and processes them as ONE unit of
work (`InboundPipeline`). `drain_inbox` retries what a crash or a broken stream left there.

Outbound: `send_text` applies the per-chat choices (a forced version, the explicit,
remembered plaintext choice) and hands the message to the outbound pipeline as a
`DirectSend`. Every engine operation runs under one lock, so one operation's changes are
committed before the next operation reads the same session (the engine keeps no mutable
cache).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

from tui_omemo.config import Settings
from tui_omemo.events import SecurityEventKind
from tui_omemo.model import Arrival, DeviceRef, Namespace, ReplyRef, bare_jid
from tui_omemo.protocol.elements import DeviceList, DeviceListEntry
from tui_omemo.protocol.engine import DecryptResult, Engine
from tui_omemo.protocol.media import carries_key
from tui_omemo.protocol.results import SkipReason
from tui_omemo.protocol.trust import TrustMode
from tui_omemo.service import crashpoints
from tui_omemo.service.api import SendFailed, SendReport, ServiceEvent, SkippedDevice
from tui_omemo.service.clock import new_message_id, now_ms
from tui_omemo.service.conversation import LAST_STANZA_ID, DirectPolicy
from tui_omemo.service.corrections import Correction
from tui_omemo.service.directory import CachingDirectory
from tui_omemo.service.held import HeldDevice, sender_device
from tui_omemo.service.inbound import InboundPipeline, Item, for_device, has_content
from tui_omemo.service.link import CatchUpGap
from tui_omemo.service.messages import (
    BODY_HINT,
    SKIP_WORDS,
    ChatPrefs,
    prefs_key,
    sent_message,
    to_chat_message,
)
from tui_omemo.service.outbound import SEND_GROUP, DirectSend, OutboundPipeline
from tui_omemo.service.outbox import Outbox
from tui_omemo.service.parts import PipelineParts
from tui_omemo.service.ports import Inbound, Transport, TransportError
from tui_omemo.service.runner import DbRunner
from tui_omemo.service.send_order import ChatTurns
from tui_omemo.service.state import Staging
from tui_omemo.service.trust import PendingEvent
from tui_omemo.service.upkeep import Upkeep
from tui_omemo.store import InboxItem, UnitOfWork

log = logging.getLogger(__name__)

INBOX_BATCH = 100
INBOUND_BATCH = 50
"""At most this many queued live stanzas are decrypted and committed as one unit of work."""

__all__ = [
    "BODY_HINT",
    "INBOUND_BATCH",
    "LAST_STANZA_ID",
    "SEND_GROUP",
    "SKIP_WORDS",
    "ChatPrefs",
    "RoomSink",
    "Session",
    "for_device",
    "new_message_id",
    "now_ms",
    "prefs_key",
    "sent_message",
    "to_chat_message",
]


class RoomSink(Protocol):
    """Where groupchat stanzas and inbox rows go (the rooms module)."""

    def claims(self, inbound: Inbound) -> bool:
        """A result of one of its own room archive queries (read by the room client)."""
        ...

    def enqueue(self, inbound: Inbound) -> None:
        """Take a live groupchat stanza."""
        ...

    async def retry(self, item: InboxItem, inbound: Inbound) -> None:
        """Process a groupchat row left in the inbox."""
        ...


def _encrypted_chat(uow: UnitOfWork, peer: str) -> bool:
    """A chat is encrypted when the peer is known to have OMEMO devices and the user has not
    chosen plaintext for it."""
    prefs = ChatPrefs.from_json(uow.settings.get(prefs_key(peer)))
    return not prefs.plaintext and bool(uow.devices.of(peer))


class Session:
    """One account's 1:1 chats over a transport, an engine and the DB runner, and the parts
    the rooms module shares (`lock`, `inbound`, `outbound`, `upkeep`, `staging`).

    Args:
        transport: the XMPP side.
        engine: our device's engine (its `StateStore` reads through `runner` and `staging`).
        runner: the DB thread.
        directory: the engine's directory (cached device lists, recorded in the store).
        settings: returns the current settings (they can change at run time).
        emit: where service events go (the service's event queue).
        staging: the unit of work being assembled, shared with the engine's state store.
        outbox: our messages the server has not confirmed (built by the service with the
            transport's ping and archive check and the rooms' way out).
    """

    def __init__(  # noqa: PLR0917 (the collaborators, all required)
        self,
        transport: Transport,
        engine: Engine,
        runner: DbRunner,
        directory: CachingDirectory,
        settings: Callable[[], Settings],
        emit: Callable[[ServiceEvent], None],
        staging: Staging,
        *,
        outbox: Outbox,
    ) -> None:
        self._transport = transport
        self._engine = engine
        self._runner = runner
        self._directory = directory
        self._settings = settings
        self._lock = asyncio.Lock()
        self.staging = staging
        self._queue: asyncio.Queue[Inbound] = asyncio.Queue()
        self._live = asyncio.Event()
        self._rooms: RoomSink | None = None
        self._prefs: dict[str, ChatPrefs] = {}
        self.archive_gap = CatchUpGap()
        """While open, live messages must not move the catch-up start past messages a lost
        stream may have left in the archive only (set by the service's connection reports)."""
        self.direct = DirectPolicy(engine, runner, self.archive_gap, _encrypted_chat)
        self.parts = PipelineParts(transport, engine, runner, directory, settings, emit, self._lock)
        """What the pipeline's components (and the group chats) share."""
        self.upkeep = Upkeep(self.parts)
        self.inbound = InboundPipeline(self.parts, staging, self.upkeep)
        self.outbound = OutboundPipeline(self.parts, staging, self.upkeep, outbox)
        self.turns = ChatTurns()
        """Sends of one chat (1:1 or room) get ready in turn (`service/send_order.py`)."""

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
        is committed before the next one reads it (the rooms module shares it)."""
        return self._lock

    @property
    def outbox(self) -> Outbox:
        """Our messages the server has not confirmed (`service/outbox.py`)."""
        return self.outbound.outbox

    @outbox.setter
    def outbox(self, outbox: Outbox) -> None:
        self.outbound.outbox = outbox

    @property
    def unread(self) -> dict[str, int]:
        """Messages received per chat (1:1 and rooms) since it was last read."""
        return self.inbound.unread

    @property
    def catch_up_sessions(self) -> set[tuple[Namespace, DeviceRef]]:
        """Devices that built a session with us while catching up."""
        return self.upkeep.catch_up_sessions

    @catch_up_sessions.setter
    def catch_up_sessions(self, sessions: set[tuple[Namespace, DeviceRef]]) -> None:
        self.upkeep.catch_up_sessions = sessions

    def attach_rooms(self, rooms: RoomSink) -> None:
        """Hand groupchat stanzas and inbox rows to the rooms module from now on."""
        self._rooms = rooms

    # --- inbound: entry points ---------------------------------------------------------

    def enqueue(self, inbound: Inbound) -> None:
        """Take a stanza from the transport (sync, on the loop): groupchat stanzas go to the
        rooms module, the rest to the worker."""
        rooms = self._rooms
        if rooms is not None and rooms.claims(inbound):
            return
        if rooms is not None and inbound.message_type == "groupchat":
            rooms.enqueue(inbound)
            return
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
            and has_content(inbound)
        ]
        if not kept:
            return
        routed = [(inbound, self.direct.routing(inbound)) for inbound in kept]
        async with self._lock:
            items, ahead = await self.inbound.keep(self.direct, routed)
            crashpoints.crash_point(crashpoints.AFTER_INBOX_WRITE)
            devices = self.inbound.held.due(sender_device(*each) for each in routed)
            held = await self._held_items(devices)  # their device's earlier stanzas first
            await self._process_locked([*held, *items], ahead=ahead)

    async def retry_held(self, jid: str, device_list: DeviceList) -> None:
        """Process the stanzas held for devices of `jid` that `device_list` (just notified)
        lists (`service/held.py`); a failure is logged, what failed stays in the inbox."""
        try:
            async with self._lock:
                devices = self.inbound.held.listed(bare_jid(jid), device_list)
                if devices:
                    await self._process_locked(await self._held_items(devices))
        except Exception as error:  # the next start (or stanza of the device) tries again
            log.warning("held stanzas stay in the inbox: %s", type(error).__name__)

    async def _held_items(self, devices: set[HeldDevice]) -> list[Item]:
        """The inbox rows held for `devices` (their list did not have them), oldest first."""
        if not devices:
            return []
        rows: list[InboxItem] = await self._runner.read(lambda uow: uow.inbox.held())
        items: list[Item] = []
        for row in rows:
            try:
                inbound = Inbound.from_bytes(row.stanza)
            except (ValueError, KeyError, TypeError):
                continue  # `drain_inbox` deletes it
            routing = self.direct.routing(inbound)
            if inbound.message_type != "groupchat" and sender_device(inbound, routing) in devices:
                items.append(
                    self.inbound.item(self.direct, row.id, inbound, row.attempts + 1, routing)
                )
        return items

    async def _process_locked(
        self,
        items: Sequence[Item],
        dropped: Sequence[int] = (),
        *,
        ahead: dict[str, str | None] | None = None,
    ) -> None:
        """One unit of work for `items` (`InboundPipeline.process_locked`)."""
        await self.inbound.process_locked(items, dropped, ahead=ahead)

    async def _rejected(self, inbound: Inbound) -> bool:
        """Raise a security event for a stanza whose path is not authentic."""
        rejection = self._path_rejection(inbound)
        if rejection is None:
            return False
        await self.inbound.security_event(
            PendingEvent(
                SecurityEventKind.DECRYPTION_FAILED,
                bare_jid(inbound.wrapper_from or inbound.sender),
                None,
                rejection,
            )
        )
        return True

    def _path_rejection(self, inbound: Inbound) -> str | None:
        """Why a stanza's path is not authentic (DESIGN.md §3.6), or None."""
        own = self.own
        match inbound.arrival:
            case Arrival.CARBON_RECEIVED | Arrival.CARBON_SENT:
                if bare_jid(inbound.wrapper_from or "") != own:
                    return (
                        f"rejected a carbon copy sent by {bare_jid(inbound.wrapper_from or '')}"
                        ": carbons are only accepted from our own account"
                    )
            case Arrival.MAM:
                if not inbound.solicited:
                    return "rejected an archive result for a query we never opened"
                if bare_jid(inbound.wrapper_from or own) != own:
                    return "rejected an archive result from another account's archive"
            case Arrival.LIVE | Arrival.OFFLINE:
                pass
        return None

    async def drain_inbox(self, *, rooms: bool = True) -> int:
        """Process every stanza left in the inbox (crash recovery at start-up; while running,
        what a broken stream left there, once it is back), a batch of rows per unit of work.
        Rows are read under the engine lock: a live stanza is written and processed within
        one hold of it, so what is read is only what was left behind. Without `rooms`,
        groupchat rows stay (the rooms module retries them when it rejoins).

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
        """Retry inbox rows: groupchat rows go to the rooms module, unreadable ones are
        deleted, the others are processed together."""
        items: list[Item] = []
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
            routing = self.direct.routing(inbound)
            items.append(self.inbound.item(self.direct, row.id, inbound, row.attempts + 1, routing))
        await self.inbound.process_all(items, unreadable)

    async def _retry_groupchat(self, row: InboxItem, inbound: Inbound) -> None:
        if self._rooms is None:
            return  # the row waits for a start that has a rooms module
        try:
            await self._rooms.retry(row, inbound)
        except Exception as error:  # left in the inbox for the next start
            log.warning("an inbox row stays for later: %s", type(error).__name__)

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

    async def send_text(
        self,
        peer: str,
        text: str,
        *,
        allow_plaintext: bool,
        correction: Correction | None = None,
        reply: ReplyRef | None = None,
    ) -> SendReport:
        """Send `text` to `peer` (see the module docstring); `correction`: it corrects our
        earlier message (XEP-0308); `reply`: `text` answers a message (XEP-0461). Both
        are only sent encrypted. The sends of one chat are queued in the order they were made
        (`service/send_order.py`), however long each one waits for its device list.

        Raises:
            SendFailed: nothing was sent; the report says who was skipped and why.
        """
        peer = bare_jid(peer)
        async with self.turns.turn(peer):
            ready = await self._ready(peer, text, allow_plaintext, correction, reply)
            if isinstance(ready, SendReport):
                return ready  # sent unencrypted, in its turn
        return await self.outbound.send(ready, text)  # queued before the next turn begins

    async def _ready(
        self,
        peer: str,
        text: str,
        allow_plaintext: bool,
        correction: Correction | None,
        reply: ReplyRef | None,
    ) -> DirectSend | SendReport:
        """The encrypted send of `text` to get in line, or the report of the unencrypted
        one the user chose (sent already).

        Raises:
            SendFailed: nothing was sent; the report says who was skipped and why.
        """
        prefs = await self.prefs(peer)
        if correction is not None or reply is not None:
            allow_plaintext = False  # a correction is only ever sent encrypted
        if allow_plaintext and not carries_key(text):  # issue 18: a file link never in clear
            if not prefs.plaintext:
                await self.set_prefs(peer, replace(prefs, plaintext=True))
            return await self.outbound.send_plain(peer, text)
        try:
            namespace = await self.choose_version(peer, prefs)
        except TransportError as error:
            raise SendFailed(
                f"could not fetch {peer}'s devices: {error}", SendReport(None, None)
            ) from error
        if namespace is None:
            if prefs.plaintext and not carries_key(text) and (correction, reply) == (None, None):
                return await self.outbound.send_plain(peer, text)
            raise SendFailed(
                f"{peer} publishes no OMEMO device; nothing was sent. Choose to send "
                "unencrypted to this contact explicitly if you want to.",
                SendReport(
                    None, None, (SkippedDevice(peer, None, SKIP_WORDS[SkipReason.NO_DEVICES]),)
                ),
            )
        return DirectSend(peer, namespace, prefs.version, correction, reply)

    # --- own-device upkeep (`service/upkeep.py`) --------------------------------------

    async def after_decrypt(self, result: DecryptResult, *, tolerant: bool = False) -> None:
        """See `Upkeep.after_decrypt`."""
        await self.upkeep.after_decrypt(result, tolerant=tolerant)

    async def send_empty(self, namespace: Namespace, device: DeviceRef) -> None:
        """Send an empty (key-transport) message to one device."""
        await self.upkeep.send_empty(namespace, device)

    async def rebuild_session(self, device: DeviceRef) -> None:
        """Forget the sessions with `device` and start new ones with an empty message."""
        await self.upkeep.rebuild_session(device)

    async def learn_identity(
        self, namespace: Namespace, device: DeviceRef, mode: TrustMode
    ) -> str | None:
        """See `Upkeep.learn_identity`."""
        return await self.upkeep.learn_identity(namespace, device, mode)

    async def publish_bundle(self, namespace: Namespace) -> None:
        """Publish our current bundle of one namespace."""
        await self.upkeep.publish_bundle(namespace)

    async def publish_own(self) -> None:
        """See `Upkeep.publish_own`."""
        await self.upkeep.publish_own()

    async def publish_device_list(self, namespace: Namespace) -> None:
        """See `Upkeep.publish_device_list`."""
        await self.upkeep.publish_device_list(namespace)

    async def own_entry(self, namespace: Namespace, server: DeviceList | None) -> DeviceListEntry:
        """Our entry on our device list of `namespace` (OMEMO 2: with our signed label)."""
        return await self.upkeep.own_entry(namespace, server)
