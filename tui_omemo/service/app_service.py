"""`OmemoChatService`: the `ChatService` the UI and the command line use.

Construction and lifetime (the composition root, `commands/runtime.py`, does this)::

    client = XmppClient(jid, password, host=host, port=port)
    await client.connect(announce=False)                      # logged in, no presence yet
    service = await OmemoChatService.create(
        database, XmppTransport(client), settings, rooms=RoomClient(client)
    )
    await service.start()   # drain the inbox, presence, publish keys, MAM catch-up, go live
    async for event in service.events(): ...
    await service.close()   # background work and the DB thread stop; the caller closes
                            # the database and disconnects the client

`create` takes the opened `Database`, a `Transport` and optionally `Settings` (given ones are
stored; None: the stored ones, else defaults) and a `RoomTransport` (both ports are in
`service/ports.py`; the service never imports `xmpp/`). Nothing here is a module global. Beyond
the `ChatService` Protocol (which has `stale_own_devices`/`remove_own_devices`,
delete_stale_devices with a preview) it offers `set_chat_version` (per-chat OMEMO version
override), `set_room_version`, `confirm_sent` (wait for the server's confirmation of the outbox),
`device_id`, `runner` and `wait_idle`.

The constructor wires the parts through constructor arguments and callbacks only: the outbox
(the transport's ping and archive check; the rooms through the group-chat component) goes into
the `Session`, and with a `RoomTransport` the group-chat component (`service.muc.GroupChats`,
kept as `groups`) shares the session's engine lock; groupchat stanzas are routed to it, `start`
rejoins the bookmarked rooms once live, `close` stops it first, a reconnect rejoins the rooms,
and the room methods delegate to it. Without one the room methods raise `NotImplementedError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Collection, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any

from tui_omemo.config import Settings
from tui_omemo.events import SecurityEvent, SecurityEventKind
from tui_omemo.model import DeviceRef, Namespace, TrustLevel, bare_jid
from tui_omemo.protocol.device_list import merge_device_list
from tui_omemo.protocol.elements import DeviceList
from tui_omemo.protocol.engine import Engine
from tui_omemo.protocol.errors import ProtocolError
from tui_omemo.protocol.settings import CoreSettings
from tui_omemo.protocol.trust import TrustMode, effective_decision
from tui_omemo.protocol.verification import (
    InvalidTrustUri,
    build_trust_uri,
    format_fingerprint,
    parse_trust_uri,
)
from tui_omemo.service.account import account_info, apply_change
from tui_omemo.service.api import (
    AccountChange,
    AccountInfo,
    ChatSecurity,
    ChatSummary,
    ConnectionChanged,
    DeviceInfo,
    HistoryPage,
    MessageReceived,
    Presence,
    RoomInfo,
    RosterChanged,
    SearchHit,
    SecurityEventRaised,
    SendReport,
    ServiceEvent,
    UriFingerprint,
    UriPreview,
)
from tui_omemo.service.contacts import Contacts, subscription_of
from tui_omemo.service.devices import ThisDevice, device_infos, latest_identities
from tui_omemo.service.directory import CachingDirectory
from tui_omemo.service.history import CatchUp
from tui_omemo.service.link import LinkWatch
from tui_omemo.service.muc import GroupChats
from tui_omemo.service.outbox import Outbox, RoomOutbound, RoomPort
from tui_omemo.service.ports import LINK_RESUMED, RoomTransport, Transport, TransportError
from tui_omemo.service.runner import DbRunner
from tui_omemo.service.session import ChatPrefs, Session, now_ms, prefs_key, to_chat_message
from tui_omemo.service.state import RunnerStateStore, Staging
from tui_omemo.service.trust import record_event, trust_mode_event
from tui_omemo.store import (
    Database,
    IdentityRecord,
    PageCursor,
    RosterItem,
    StoreError,
    UnitOfWork,
)

SETTINGS_KEY = "omemo_settings"
GROUPS = "group chats need a room transport; none was handed to this service"
log = logging.getLogger(__name__)

ROSTER_COALESCE_S = 0.25


def core_settings(settings: Settings) -> CoreSettings:
    """The protocol options of the app settings."""
    return CoreSettings(
        renew_signed_prekey=settings.renew_signed_prekey,
        renew_signed_prekey_after_hours=settings.renew_signed_prekey_after_hours,
        renew_signed_prekey_keep=settings.signed_prekey_keep,
        complete_session_with_empty_message=settings.complete_session_with_empty_message,
    )


def _load_settings(uow: UnitOfWork, given: Settings | None) -> Settings:
    if given is not None:
        uow.settings.set(SETTINGS_KEY, given.to_json())
        return given
    stored = uow.settings.get(SETTINGS_KEY)
    if isinstance(stored, dict):
        return Settings.from_json(stored)
    return Settings()


class OmemoChatService:
    """The application for 1:1 OMEMO chat (implements `service.api.ChatService`).

    Use `create`; the constructor only wires parts together.
    """

    def __init__(
        self,
        *,
        runner: DbRunner,
        transport: Transport,
        engine: Engine,
        directory: CachingDirectory,
        settings: Settings,
        staging: Staging,
        rooms: RoomTransport | None = None,
    ) -> None:
        self._runner = runner
        self._transport = transport
        self._engine = engine
        self._directory = directory
        self._settings = settings
        self._events: asyncio.Queue[ServiceEvent] = asyncio.Queue()
        directory.on_event = self._events.put_nowait
        self._background: set[asyncio.Task[None]] = set()
        self._roster_pending: set[str] = set()
        self._closed = False
        self._link = LinkWatch()
        self.groups: GroupChats | None = None
        """The group-chat component (None when no `RoomTransport` was handed in)."""
        outbox = Outbox(
            transport,
            runner,
            self._emit,
            transport.ping,
            transport.archived_sent_ids,
            rooms=None if rooms is None else RoomPort(self._send_room_stanza, self._in_room),
        )
        self.session = Session(
            transport,
            engine,
            runner,
            directory,
            lambda: self._settings,
            self._emit,
            staging,
            outbox=outbox,
        )
        self._catch_up = CatchUp(self.session, transport, runner, self._emit)
        self._worker: asyncio.Task[None] | None = None
        if rooms is not None:
            self.groups = GroupChats(
                rooms=rooms,
                session=self.session,
                runner=runner,
                directory=directory,
                settings=lambda: self._settings,
                emit=self._emit,
                lock=self.session.lock,
            )
            self.session.attach_rooms(self.groups)
        transport.set_handlers(self.session.enqueue, self._on_connection)
        transport.set_device_list_handler(self._on_device_list)
        transport.set_presence_handler(self._on_presence)
        self._contacts = Contacts(
            transport=transport,
            runner=runner,
            own_jid=self.own_jid,
            changed=self._roster_changed,
            refresh_devices=self.refresh_device_list,
        )
        transport.set_roster_handler(
            lambda: None if self._closed else self._spawn(self._contacts.pushed())
        )

    def _send_room_stanza(self, stanza: RoomOutbound) -> None:
        """The outbox's way into a room (raises TransportError when the stream is down)."""
        self._groups().send_stanza(stanza)

    def _in_room(self, room: str) -> bool:
        """Whether the group-chat component is in `room` on the current stream."""
        return self.groups is not None and room in self.groups.joined_rooms()

    @classmethod
    async def create(
        cls,
        database: Database,
        transport: Transport,
        settings: Settings | None = None,
        *,
        rooms: RoomTransport | None = None,
    ) -> OmemoChatService:
        """Load (or create, on first use) our OMEMO device and build the service.

        Args:
            database: the opened profile; from now on only the service's DB thread uses it.
            transport: the connected XMPP side.
            settings: settings to use and store; None: the stored ones (or defaults).
            rooms: the group-chat side on the same stream; None: no group chats (the room
                methods raise NotImplementedError).

        Raises:
            StoreError, StateCorrupted, TransportError: the profile or network failed; nothing
                was regenerated over existing state.
        """
        runner = DbRunner(database)
        try:
            settings = await runner.write(lambda uow: _load_settings(uow, settings))
            directory = CachingDirectory(transport, runner)
            staging = Staging()
            engine = await Engine.create(
                transport.own_bare_jid,
                RunnerStateStore(runner, staging),
                directory,
                core_settings(settings),
            )
        except BaseException:
            await runner.close()
            raise
        return cls(
            runner=runner,
            transport=transport,
            engine=engine,
            directory=directory,
            settings=settings,
            staging=staging,
            rooms=rooms,
        )

    async def start(self, *, rooms: bool = True) -> None:
        """Drain the inbox left by a crash, publish our keys, catch up from MAM, go live,
        then rejoin the bookmarked rooms (each caught up from its archive).

        Args:
            rooms: rejoin the bookmarked rooms (one bookmarks query, then a join and a
                catch-up per room). Commands about one contact pass False: they never look
                at a room, and groupchat rows left in the inbox wait for a start with rooms.
        """
        await self.session.drain_inbox()
        while True:  # an outage on the way: once reconnected, all of it again
            try:
                await self._start_online()
                break
            except (TransportError, ProtocolError):
                if not await self._link.back_after_failure():
                    raise
        self.session.go_live()
        self._worker = asyncio.create_task(self.session.run_worker(), name="tui-omemo-inbound")
        if rooms and self.groups is not None:
            await self.groups.start()
            await self.session.outbox.flush(rooms=True, new_stream=False)

    async def _start_online(self) -> None:
        """The network part of `start`: presence, what a crash or a lost stream left unsent,
        our keys, the catch-up (its failure ends the start only when the stream broke), the
        roster."""
        await self._transport.go_online()
        await self.session.outbox.flush()
        await self.session.publish_own()
        try:
            await self._catch_up.run()
        except TransportError:
            if not self._link.up:
                raise
        else:
            self.session.archive_gap.caught_up()
        await self._refresh_roster()

    async def wait_idle(self) -> None:
        """Wait until every live stanza received so far (1:1 and groupchat) is processed
        (tests, scripts)."""
        await self.session.wait_idle()
        if self.groups is not None:
            await self.groups.wait_idle()

    async def close(self) -> None:
        """Stop the group-chat component, the inbound worker and the DB thread (the caller
        closes the database)."""
        self._closed = True
        await self.session.outbox.close()
        if self.groups is not None:
            await self.groups.close()
        tasks = [*self._background, *([self._worker] if self._worker else [])]
        self._worker = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._runner.close()

    @property
    def device_id(self) -> int:
        """This device's OMEMO device id."""
        return self._engine.device_id

    @property
    def runner(self) -> DbRunner:
        """The DB thread (tests and the CLI read the store through it)."""
        return self._runner

    def _emit(self, event: ServiceEvent) -> None:
        """Queue an event; an incoming message also updates its roster row (unread count)."""
        self._events.put_nowait(event)
        if isinstance(event, MessageReceived) and not event.message.outgoing:
            self._roster_soon(event.message.peer)

    def _roster_soon(self, jid: str) -> None:
        """One RosterChanged per contact per quarter second, however many messages arrive
        (a catch-up of a thousand messages must not compute a thousand summaries)."""
        if jid in self._roster_pending:
            return
        self._roster_pending.add(jid)

        async def later() -> None:
            await asyncio.sleep(ROSTER_COALESCE_S)
            self._roster_pending.discard(jid)
            await self._roster_changed(jid)

        self._spawn(later())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _on_presence(self, jid: str) -> None:
        if jid != self.own_jid:
            self._roster_soon(jid)

    def _on_device_list(self, jid: str, device_list: DeviceList) -> None:
        if not self._closed:  # a notification racing `close` finds no DB thread
            self._spawn(self._device_list_changed(jid, device_list))

    async def _device_list_changed(self, jid: str, device_list: DeviceList) -> None:
        """A PEP notification: record the list; when it is our own list and another client
        dropped this device from it, put it back (merged: no other id is dropped)."""
        await self._directory.notified(jid, device_list)
        if bare_jid(jid) != self.own_jid or self._engine.device_id in device_list.device_ids:
            return
        try:
            await self.session.publish_device_list(device_list.namespace)
        except TransportError as error:  # the next start (or notification) tries again
            log.warning("could not put this device back on our device list: %s", error)

    def _on_connection(self, connected: bool, detail: str) -> None:
        self._events.put_nowait(ConnectionChanged(connected, detail))
        self._link.heard(connected, detail)
        if not connected:
            self.session.outbox.stream_lost()  # room messages wait for the rejoin
            self.session.archive_gap.lost()
        elif detail == LINK_RESUMED:
            self.session.archive_gap.resumed()
        else:
            self.session.archive_gap.fresh()  # until a catch-up closes it
        if not connected or self._worker is None:
            return
        # a fresh stream after start(): presence, catch-up, rooms (a resumed one lost nothing
        # but our unconfirmed messages, which go out again on either)
        if detail == LINK_RESUMED:
            self._spawn(self._resend())
        else:
            self._spawn(self._reconnected())

    async def _resend(self) -> None:
        """After a resumption: what the old stream took is the stream's to resend (the
        server's `h` decides); only what it never took goes now, rooms included (a resumed
        stream is still in them)."""
        self.session.outbox.stream_resumed()
        with contextlib.suppress(TransportError, StoreError):
            await self.session.outbox.flush(rooms=True, new_stream=False)
        await self.session.drain_inbox(rooms=False)  # what the outage left in the inbox
        if self.session.archive_gap.open:  # a fresh session before was not caught up
            await self._catch_up_quietly()

    async def _catch_up_quietly(self) -> None:
        with contextlib.suppress(TransportError, ProtocolError):
            if not self.session.engine.catching_up:  # else the old stream's, failing now
                await self._catch_up.run()
                self.session.archive_gap.caught_up()

    async def _reconnected(self) -> None:
        """After a reconnect: presence, keys published again, MAM catch-up, the rooms we
        were in joined again and caught up (not when presence or publishing failed: the
        stream is gone again, and a room that does not answer would be dropped)."""
        try:
            await self._transport.go_online()
            await self.session.outbox.flush()
            await self.session.drain_inbox(rooms=False)  # what the outage left in the inbox
            await self.session.publish_own()
        except (TransportError, ProtocolError):
            return
        await self._catch_up_quietly()
        if self.groups is not None:
            with contextlib.suppress(TransportError, ProtocolError):
                await self.groups.reconnected()
            with contextlib.suppress(TransportError, StoreError):
                await self.session.outbox.flush(rooms=True, new_stream=False)

    # --- ChatService ------------------------------------------------------------------

    @property
    def own_jid(self) -> str:
        """The account's bare JID."""
        return self._engine.own_bare_jid

    async def events(self) -> AsyncIterator[ServiceEvent]:
        """Background events, forever; exactly one consumer."""
        while True:
            yield await self._events.get()

    async def chats(self) -> Sequence[ChatSummary]:
        """The roster: contacts, then joined rooms, with unread counts and security badges."""
        items = await self._runner.read(lambda uow: uow.roster.all())
        rows = [await self._summary(item.bare_jid, item.name, item.subscription) for item in items]
        if self.groups is not None:
            rows.extend(await self.groups.summaries())
        return rows

    async def chat_summary(self, jid: str) -> ChatSummary:
        """One chat's summary, in the roster or not (then its device lists are fetched first
        and `in_roster` is False)."""
        jid = bare_jid(jid)
        if self.groups is not None and jid in self.groups.joined_rooms():
            return await self.groups.summary(jid)
        item = await self._roster_item(jid)
        if item is None:
            with contextlib.suppress(TransportError):
                await self.refresh_device_list(jid)
            return await self._summary(jid, None, "none", in_roster=False)
        return await self._summary(jid, item.name, item.subscription)

    async def _roster_item(self, jid: str) -> RosterItem | None:
        items = await self._runner.read(lambda uow: uow.roster.all())
        return next((item for item in items if item.bare_jid == jid), None)

    async def _summary(
        self, jid: str, name: str | None, subscription: str = "both", *, in_roster: bool = True
    ) -> ChatSummary:
        mode = TrustMode(self._settings.trust_mode)

        def read(uow: UnitOfWork) -> tuple[ChatPrefs, list[Namespace], list[TrustLevel]]:
            prefs = ChatPrefs.from_json(uow.settings.get(prefs_key(jid)))
            devices = [record for record in uow.devices.of(jid) if record.active]
            namespaces = sorted({record.namespace for record in devices})
            active_ids = {record.device_id for record in devices}
            levels = [
                record.trust
                for record in latest_identities(uow.trust.identities(jid))
                if record.device_id in active_ids
            ]
            return prefs, namespaces, levels

        prefs, namespaces, levels = await self._runner.read(read)
        omemo = prefs.version or (
            Namespace.V2 if Namespace.V2 in namespaces else Namespace.LEGACY if namespaces else None
        )
        if not namespaces:
            security = ChatSecurity.PLAINTEXT_CHOSEN if prefs.plaintext else ChatSecurity.NO_OMEMO
        else:
            security = _security(levels, mode)
        presence = self._presence(jid)
        return ChatSummary(
            jid,
            name or jid,
            False,
            presence,
            self.session.unread.get(jid, 0),
            security,
            omemo,
            subscription=subscription_of(subscription),
            in_roster=in_roster,
        )

    def _presence(self, jid: str) -> Presence:
        return self._transport.presence(jid)

    async def _refresh_roster(self) -> None:
        with contextlib.suppress(TransportError):
            items = list(await self._transport.roster())
            own = self.own_jid
            await self._runner.write(
                lambda uow: uow.roster.replace_all([item for item in items if item.bare_jid != own])
            )

    async def history(self, peer: str, before: int | None, limit: int) -> HistoryPage:
        """Messages older than archive id `before` (None: newest), oldest first."""
        peer = bare_jid(peer)

        def read(uow: UnitOfWork) -> HistoryPage:
            cursor = None
            if before is not None:
                row = uow.archive.get(before)
                if row is None:
                    return HistoryPage((), None)
                cursor = PageCursor(row.seq, row.id)
            page = uow.archive.page(peer, cursor, limit)
            messages = tuple(to_chat_message(row) for row in reversed(page.messages))
            older = page.messages[-1].id if page.older is not None and page.messages else None
            return HistoryPage(messages, older)

        return await self._runner.read(read)

    async def send(self, peer: str, text: str, *, allow_plaintext: bool = False) -> SendReport:
        """Encrypt and send (raises `SendFailed` when nothing was sent)."""
        return await self.session.send_text(peer, text, allow_plaintext=allow_plaintext)

    async def confirm_sent(self, within: float) -> int:
        """Wait for the server to confirm every message handed to it so far (a ping round
        trip) and mark them sent; how many were confirmed.

        Raises:
            TransportError: no confirmation within `within` seconds; they stay pending.
        """
        return await self.session.outbox.confirm(within)

    async def set_chat_version(self, peer: str, version: Namespace | None) -> None:
        """Force an OMEMO version for one chat (None: automatic)."""
        prefs = await self.session.prefs(bare_jid(peer))
        await self.session.set_prefs(bare_jid(peer), ChatPrefs(prefs.plaintext, version))

    async def devices(self, bare_jid_: str | None = None) -> Sequence[DeviceInfo]:
        """Devices of one contact, or ours followed by every contact's."""
        if bare_jid_ is not None:
            return await self._runner.read(lambda uow: self._devices_of(uow, bare_jid(bare_jid_)))

        def read(uow: UnitOfWork) -> list[DeviceInfo]:
            result = self._devices_of(uow, self.own_jid)
            for item in uow.roster.all():
                result.extend(self._devices_of(uow, item.bare_jid))
            return result

        return await self._runner.read(read)

    def _devices_of(self, uow: UnitOfWork, jid: str) -> list[DeviceInfo]:
        return device_infos(uow, jid, self._this_device)

    @property
    def _this_device(self) -> ThisDevice:
        return ThisDevice(self.own_jid, self._engine.device_id, self._engine.identity_key)

    async def stale_own_devices(self) -> Sequence[DeviceInfo]:
        """Our other devices silent for longer than `delete_stale_after_hours`: the preview
        shown before `remove_own_devices` (DESIGN.md §4, delete_stale_devices)."""
        limit = self._settings.delete_stale_after_hours * 3600 * 1000
        now = now_ms()
        await self.refresh_device_list(self.own_jid)

        def read(uow: UnitOfWork) -> list[DeviceInfo]:
            silent = set()
            for record in uow.devices.of(self.own_jid):
                last = record.last_message or record.first_seen
                if record.active and now - last > limit:
                    silent.add(record.device_id)
            silent.discard(self._engine.device_id)
            return [d for d in self._devices_of(uow, self.own_jid) if d.device_id in silent]

        return await self._runner.read(read)

    async def remove_own_devices(self, device_ids: Collection[int]) -> None:
        """Remove our other devices from both of our published device lists (never this one).

        Raises:
            TransportError: the lists could not be fetched or published.
        """
        drop = set(device_ids) - {self._engine.device_id}
        if not drop:
            return
        for namespace in Namespace:
            server = await self._transport.fetch_device_list(namespace, self.own_jid)
            own = await self.session.own_entry(namespace, server)
            merged = merge_device_list(namespace, server, [own], drop=drop)
            if merged is not None:
                await self._transport.publish_device_list(merged)
            await self._directory.refresh(namespace, self.own_jid)

    async def set_trust(self, bare_jid_: str, device_id: int, level: TrustLevel) -> None:
        """Record a manual trust decision for the device's current identity key.

        Raises:
            KeyError: the device's identity key is not known yet (refresh its device list).
        """
        jid = bare_jid(bare_jid_)
        identity = await self._identity(jid, device_id)
        now = now_ms()
        detail = f"device {device_id} of {jid} is now {level.value.replace('_', ' ')}"

        def write(uow: UnitOfWork) -> None:
            uow.trust.set_trust(jid, device_id, identity.identity_key, level, now=now, actor="user")
            uow.security_events.add(
                SecurityEventKind.TRUST_CHANGED.value, now, jid, device_id, {"detail": detail}
            )

        await self._runner.write(write)
        self._events.put_nowait(
            SecurityEventRaised(
                SecurityEvent(SecurityEventKind.TRUST_CHANGED, jid, device_id, detail)
            )
        )
        await self._roster_changed(jid)

    async def _identity(self, jid: str, device_id: int) -> IdentityRecord:
        records = await self._runner.read(lambda uow: uow.trust.identities(jid))
        latest = {record.device_id: record for record in latest_identities(records)}
        if device_id not in latest:
            await self.refresh_device_list(jid)
            records = await self._runner.read(lambda uow: uow.trust.identities(jid))
            latest = {record.device_id: record for record in latest_identities(records)}
        if device_id not in latest:
            raise KeyError(f"the identity key of device {device_id} of {jid} is not known")
        return latest[device_id]

    async def _roster_changed(self, jid: str) -> None:
        if self.groups is not None and jid in self.groups.joined_rooms():
            self._events.put_nowait(RosterChanged(await self.groups.summary(jid)))
            return
        item = await self._roster_item(jid)
        if item is None:
            self._events.put_nowait(
                RosterChanged(await self._summary(jid, None, "none", in_roster=False))
            )
            return
        self._events.put_nowait(
            RosterChanged(await self._summary(jid, item.name, item.subscription))
        )

    async def rebuild_session(self, bare_jid_: str, device_id: int) -> None:
        """Build fresh sessions with one device and send it an empty message."""
        await self.session.rebuild_session(DeviceRef(bare_jid(bare_jid_), device_id))

    async def own_trust_uri(self) -> str:
        """Our `xmpp:` URI: this device plus our verified other devices."""
        entries = [(self._engine.device_id, self._engine.identity_key.hex())]
        records = await self._runner.read(lambda uow: uow.trust.identities(self.own_jid))
        for record in latest_identities(records):
            if record.trust is TrustLevel.VERIFIED and record.device_id != entries[0][0]:
                entries.append((record.device_id, record.identity_key.hex()))
        return build_trust_uri(self.own_jid, entries)

    async def preview_trust_uri(self, uri: str) -> UriPreview:
        """What verifying a pasted URI would change (raises ValueError)."""
        try:
            parsed = parse_trust_uri(uri)
        except InvalidTrustUri as error:
            raise ValueError(str(error)) from error
        records = await self._runner.read(lambda uow: uow.trust.identities(parsed.bare_jid))
        by_key = {record.identity_key.hex(): record for record in records}
        fingerprints = tuple(
            UriFingerprint(
                device_id,
                format_fingerprint(hex64),
                hex64 in by_key,
                by_key[hex64].trust if hex64 in by_key else None,
            )
            for device_id, hex64 in parsed.fingerprints.items()
        )
        return UriPreview(parsed.bare_jid, fingerprints)

    async def apply_trust_uri(self, uri: str) -> int:
        """Verify every known device whose fingerprint is in the URI; returns how many."""
        preview = await self.preview_trust_uri(uri)
        records = await self._runner.read(lambda uow: uow.trust.identities(preview.bare_jid))
        wanted = {entry.fingerprint.replace(" ", "") for entry in preview.fingerprints}
        matches = [record for record in records if record.identity_key.hex() in wanted]
        now = now_ms()

        def write(uow: UnitOfWork) -> int:
            changed = 0
            for record in matches:
                if record.trust is not TrustLevel.VERIFIED:
                    uow.trust.set_trust(
                        record.bare_jid,
                        record.device_id,
                        record.identity_key,
                        TrustLevel.VERIFIED,
                        now=now,
                        actor="uri",
                    )
                    changed += 1
            return changed

        return await self._runner.write(write)

    async def search(self, text: str, peer: str | None = None) -> Sequence[SearchHit]:
        """Full-text search over the archive (failure rows have no text and never match)."""
        hits = await self._runner.read(
            lambda uow: uow.archive.search(text, None if peer is None else bare_jid(peer))
        )
        return [SearchHit(to_chat_message(hit.message), hit.snippet_text) for hit in hits]

    async def security_events(self, limit: int = 200) -> Sequence[SecurityEvent]:
        """The newest security events, newest first."""
        rows = await self._runner.read(lambda uow: uow.security_events.recent(limit))
        kinds = {kind.value for kind in SecurityEventKind}
        return [
            SecurityEvent(
                SecurityEventKind(row.kind)
                if row.kind in kinds
                else SecurityEventKind.DECRYPTION_FAILED,
                row.peer or "",
                row.device_id,
                str(row.detail.get("detail", row.kind)),
                datetime.fromtimestamp(row.occurred_at / 1000, UTC),
            )
            for row in rows
        ]

    async def settings(self) -> Settings:
        """The current settings."""
        return self._settings

    async def update_setting(self, key: str, value: str) -> Settings:
        """Change one setting (raises ValueError). Protocol options apply after a restart."""
        updated = self._settings.with_value(key, value)
        changed = trust_mode_event(self._settings, updated, self.own_jid)
        now = now_ms()

        def write(uow: UnitOfWork) -> None:
            uow.settings.set(SETTINGS_KEY, updated.to_json())
            for event in changed:
                record_event(uow, event, now)

        await self._runner.write(write)
        self._settings = updated
        for event in changed:
            self._events.put_nowait(
                SecurityEventRaised(SecurityEvent(event.kind, event.bare_jid, None, event.detail))
            )
        return updated

    async def account(self) -> AccountInfo:
        """The account, this device and our other devices (our device lists fetched again
        first; as stored when the server does not answer)."""
        with contextlib.suppress(TransportError):
            await self.refresh_device_list(self.own_jid)
        return await self._runner.read(account_info)

    async def update_account(self, change: AccountChange) -> AccountInfo:
        """Apply `change` (raises ValueError; nothing is changed then). A new password or
        server is used from the next start; a changed label is published at once."""
        await self._runner.write(lambda uow: apply_change(uow, change))
        if change.label is not None:
            with contextlib.suppress(TransportError):  # published again at the next login
                await self.session.publish_device_list(Namespace.V2)
        return await self._runner.read(account_info)

    def _groups(self) -> GroupChats:
        if self.groups is None:
            raise NotImplementedError(GROUPS)
        return self.groups

    async def join_room(self, room: str, nick: str) -> RoomInfo:
        """Join (and bookmark) a room; its OMEMO gate and member readiness.

        Raises:
            TransportError: the room refused us or did not answer.
            NotImplementedError: the transport has no client (no group chats).
        """
        return await self._groups().join_room(room, nick)

    async def leave_room(self, room: str) -> None:
        """Leave a room and drop its bookmark (its archive and choices stay)."""
        await self._groups().leave_room(room)

    async def invite(self, room: str, bare_jid_: str) -> bool:
        """Invite a contact into a joined room (`GroupChats.invite`); a new member changes
        the room's roster row (a RosterChanged follows)."""
        granted = await self._groups().invite(room, bare_jid(bare_jid_))
        await self._roster_changed(bare_jid(room))
        return granted

    async def room_info(self, room: str) -> RoomInfo:
        """A joined room's gate and members (raises KeyError when it is not joined)."""
        return await self._groups().room_info(room)

    async def send_to_room(
        self, room: str, text: str, *, allow_plaintext: bool = False, allow_partial: bool = False
    ) -> SendReport:
        """Encrypt for every member and send to a joined room (`GroupChats.send_to_room`).

        Raises:
            KeyError: the room is not joined.
            SendFailed: nothing was sent; the report lists who was skipped and why.
        """
        return await self._groups().send_to_room(
            room, text, allow_plaintext=allow_plaintext, allow_partial=allow_partial
        )

    async def set_partial_choice(self, room: str, allowed: bool) -> None:
        """Remember whether sends to `room` may skip members without a usable device."""
        await self._groups().set_partial_choice(room, allowed)

    async def set_room_version(self, room: str, version: Namespace | None) -> None:
        """Force an OMEMO version for one room (None: automatic)."""
        await self._groups().set_room_version(room, version)

    async def add_contact(self, bare_jid_: str) -> None:
        """Add a contact, ask for presence, and learn its devices and fingerprints."""
        jid = bare_jid(bare_jid_)
        await self._transport.add_contact(jid)
        await self._runner.write(lambda uow: uow.roster.upsert(RosterItem(jid, None, "pending")))
        with contextlib.suppress(TransportError):
            await self.refresh_device_list(jid)
        await self._roster_changed(jid)

    async def remove_contact(self, bare_jid_: str) -> None:
        """Remove a contact and both subscriptions (see `service.contacts`)."""
        await self._contacts.remove(bare_jid_)

    async def rename_contact(self, bare_jid_: str, name: str) -> None:
        """Give a contact a roster name (see `service.contacts`)."""
        await self._contacts.rename(bare_jid_, name)

    async def mark_read(self, peer: str) -> None:
        """Set a chat's unread count to zero."""
        jid = bare_jid(peer)
        self.session.unread[jid] = 0
        await self._roster_changed(jid)

    async def refresh_device_list(self, bare_jid_: str) -> None:
        """Fetch both device lists again and learn each listed device's identity key (BTBV
        applies to devices seen for the first time)."""
        jid = bare_jid(bare_jid_)
        mode = TrustMode(self._settings.trust_mode)
        failures: list[TransportError] = []
        for namespace in Namespace:  # one list may be readable while the other is not
            try:
                device_list = await self._directory.refresh(namespace, jid)
            except TransportError as error:
                failures.append(error)
                continue
            for device_id in sorted(device_list.device_ids):
                if jid == self.own_jid and device_id == self._engine.device_id:
                    continue
                await self.session.learn_identity(namespace, DeviceRef(jid, device_id), mode)
        if len(failures) == len(Namespace):
            raise failures[0]


def _security(levels: Sequence[TrustLevel], mode: TrustMode) -> ChatSecurity:
    displays = [effective_decision(level, mode) for level in levels]
    if not displays or any(
        not decision.may_receive_keys and level is TrustLevel.UNDECIDED
        for decision, level in zip(displays, levels, strict=True)
    ):
        return ChatSecurity.UNDECIDED_DEVICES
    if any(level is TrustLevel.BLINDLY_TRUSTED for level in levels):
        return ChatSecurity.SOME_BLIND
    return ChatSecurity.ALL_VERIFIED
