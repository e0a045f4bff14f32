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

This module keeps construction, lifetime and the reactions to the network (connection
changes, device-list and presence notifications); the `ChatService` methods live in parts by
concern that the class is composed of (`facade_base.py` names what they share): chats and
contacts (`facade_chats.py`), devices and trust (`facade_devices.py`), group chats
(`facade_rooms.py`), account and settings (`facade_account.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from tui_omemo.config import Settings
from tui_omemo.model import bare_jid
from tui_omemo.protocol.elements import DeviceList
from tui_omemo.protocol.engine import Engine
from tui_omemo.protocol.errors import ProtocolError
from tui_omemo.protocol.settings import CoreSettings
from tui_omemo.service.api import ConnectionChanged, MessageReceived, ServiceEvent
from tui_omemo.service.chat_states import ChatStates
from tui_omemo.service.contacts import Contacts
from tui_omemo.service.directory import CachingDirectory
from tui_omemo.service.facade_account import SETTINGS_KEY, AccountFacade
from tui_omemo.service.facade_chats import ChatsFacade
from tui_omemo.service.facade_devices import DevicesFacade
from tui_omemo.service.facade_editing import EditingFacade
from tui_omemo.service.facade_rooms import RoomsFacade
from tui_omemo.service.history import CatchUp
from tui_omemo.service.link import LinkWatch
from tui_omemo.service.muc import GroupChats
from tui_omemo.service.outbox import Outbox, RoomOutbound, RoomPort
from tui_omemo.service.ports import LINK_RESUMED, RoomTransport, Transport, TransportError
from tui_omemo.service.read_elsewhere import ReadElsewhere
from tui_omemo.service.receipts import Receipts
from tui_omemo.service.runner import DbRunner
from tui_omemo.service.session import Session
from tui_omemo.service.social import Social
from tui_omemo.service.state import RunnerStateStore, Staging
from tui_omemo.store import Database, StoreError, UnitOfWork

__all__ = ["SETTINGS_KEY", "OmemoChatService", "core_settings"]
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


class OmemoChatService(ChatsFacade, DevicesFacade, RoomsFacade, AccountFacade, EditingFacade):
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
            # XEP-0085 §5; a lambda because `chat_states` is built below
            chat_state=lambda chat: self.chat_states.for_message(chat),  # noqa: PLW0108
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
        elsewhere = ReadElsewhere(  # issue 17: read on another device of ours
            runner, self.own_jid, lambda: self.session.unread, self._roster_soon, self._own_nick
        )
        self._catch_up = CatchUp(
            self.session, transport, runner, self._emit, after_page=elsewhere.retry
        )
        self.session.inbound.after_commit = elsewhere.retry  # a marker before its message
        self._worker: asyncio.Task[None] | None = None
        if rooms is not None:
            self.groups = GroupChats(rooms=rooms, session=self.session)
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
        self.social = Social(transport, lambda: self._settings, self._roster_soon)  # issue 17
        self.chat_states = ChatStates(  # XEP-0085
            transport, lambda: self._settings, self._emit, self._subscription, self._own_nick
        )
        self.receipts = Receipts(
            transport, runner, lambda: self._settings, self._emit, self._spawn, elsewhere=elsewhere
        )
        transport.set_roster_handler(
            lambda: None if self._closed else self._spawn(self._contacts.pushed())
        )

    async def _subscription(self, jid: str) -> str | None:
        item = await self._roster_item(jid)
        return None if item is None else item.subscription

    def _own_nick(self, room: str) -> str | None:
        return None if self.groups is None else self.groups.own_nick(room)

    async def composing(self, chat: str) -> None:
        """The user typed in `chat`'s composer (`service.chat_states`)."""
        await self.chat_states.composing(chat)

    async def chat_active(self, chat: str) -> None:
        """`chat` is on screen or a message was sent in it (`service.chat_states`)."""
        await self.chat_states.active(chat)

    async def chat_inactive(self, chat: str) -> None:
        """The user left `chat` (`service.chat_states`)."""
        await self.chat_states.inactive(chat)

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
        self.social.announce(changed=False)
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
        self.chat_states.close()
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
        await self.session.retry_held(jid, device_list)  # stanzas its devices' lists held
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
            self.social.announce(changed=False)
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

    async def events(self) -> AsyncIterator[ServiceEvent]:
        """Background events, forever; exactly one consumer."""
        while True:
            yield await self._events.get()
