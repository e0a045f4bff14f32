"""The rooms' side of the inbound pipeline (`service/inbound.py`, room policy).

Groupchat stanzas take the 1:1 path's shape (DESIGN.md §3.1): inbox first, dedupe, decrypt on
copies under the engine lock shared with `Session`, one unit of work with the state, the
archive row (room and nick filled in) and the inbox deletion. What is room-only is here: the
live queue of groupchat stanzas, the path check (room archive results only for our queries,
no carbons), the sender lookup (the occupant's real JID from the room's presence; for an
archived message whose occupant left, the member whose device list holds the sending device
id), the room archive position, retries of rows a crash left, and the catch-up per room. Our
own reflection is recognised by its origin-id (archived when sending) and never decrypted.
A page of a room's archive goes through as one batch (one inbox write, one unit of work);
live groupchat stanzas go one at a time, in arrival order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from tui_omemo.events import SecurityEventKind
from tui_omemo.model import Arrival, bare_jid
from tui_omemo.service.conversation import RoomPolicy
from tui_omemo.service.directory import CachingDirectory
from tui_omemo.service.history import finish_catch_up
from tui_omemo.service.inbound import for_device, has_content
from tui_omemo.service.ports import Inbound, RoomTransport, TransportError
from tui_omemo.service.rooms import JoinedRoom, RoomPrefs, room_key
from tui_omemo.service.runner import DbRunner
from tui_omemo.service.session import Session
from tui_omemo.service.trust import PendingEvent
from tui_omemo.store import InboxItem, UnitOfWork

log = logging.getLogger(__name__)

PAGE_SIZE = 25
INBOX_SCAN = 1000
FIRST_CATCH_UP = 50
"""Messages fetched from a room's archive when we have no position there yet."""

RowHandler = Callable[[int, Inbound, int], Awaitable[None]]
"""Processes one groupchat inbox row (inbox id, stanza, attempts so far)."""


class RoomInbox:
    """Groupchat stanzas into the shared inbound pipeline (implements `RoomMembers`).

    Args:
        rooms: the XEP-0045 client.
        session: the 1:1 side, whose pipeline, engine and lock are shared.
        joined: the joined rooms, by bare JID (owned by the rooms module).
        directory: device lists (senders of archived messages).
        runner: the DB thread.
        process: how a row is processed: the rooms module's `process` (which runs
            `RoomInbox.process`), looked up at each call so that it can be wrapped.
    """

    def __init__(  # noqa: PLR0917 (the collaborators, all required)
        self,
        rooms: RoomTransport,
        session: Session,
        joined: dict[str, JoinedRoom],
        directory: CachingDirectory,
        runner: DbRunner,
        process: RowHandler,
    ) -> None:
        self._rooms = rooms
        self._session = session
        self._joined = joined
        self._directory = directory
        self._runner = runner
        self._process = process
        self._policy = RoomPolicy(session.engine, self)
        self._queue: asyncio.Queue[Inbound] = asyncio.Queue()

    @property
    def own(self) -> str:
        """Our bare JID."""
        return self._session.own

    def enqueue(self, inbound: Inbound) -> None:
        """Take a groupchat stanza (sync, on the loop); the worker processes it."""
        self._queue.put_nowait(inbound)

    async def run_worker(self) -> None:
        """Process queued groupchat stanzas forever (cancel to stop)."""
        while True:
            inbound = await self._queue.get()
            try:
                await self.accept(inbound)
            except Exception:  # one bad stanza must not stop the pipeline
                log.exception("processing a groupchat stanza failed")
            finally:
                self._queue.task_done()

    async def wait_idle(self) -> None:
        """Wait until every queued groupchat stanza is processed (tests, scripts)."""
        await self._queue.join()

    def claims(self, inbound: Inbound) -> bool:
        """A result of one of our room archive queries (`RoomClient` reads those itself; the
        transport does not parse them)."""
        return inbound.arrival is Arrival.MAM and self._rooms.archive_query_open(
            inbound.mam_query_id or ""
        )

    async def accept(self, inbound: Inbound) -> None:
        """Check the path, keep the stanza in the inbox, then process it."""
        room = bare_jid(inbound.sender)
        if inbound.arrival.wrapped:
            if inbound.arrival is Arrival.MAM:
                await self._session.inbound.security_event(
                    PendingEvent(
                        SecurityEventKind.DECRYPTION_FAILED,
                        room,
                        None,
                        "rejected a room archive result for a query we never opened",
                    )
                )
            return  # carbons of groupchat messages are not ours to take
        if room not in self._joined:
            return
        await self.keep_and_process(inbound)

    async def keep_and_process(self, inbound: Inbound) -> None:
        """Write a groupchat stanza to the inbox, then process it."""
        inbound = for_device(inbound, self._session.engine.device_id)
        if not has_content(inbound):
            return
        inbox_id = await self._session.inbound.store(inbound)
        await self._process(inbox_id, inbound, 0)

    async def _keep_and_process_page(self, inbounds: list[Inbound]) -> None:
        """A page of the room's archive as one batch: one inbox write, each sender named,
        then ONE unit of work for the page (`InboundPipeline.process_all`)."""
        pipeline, device_id = self._session.inbound, self._session.engine.device_id
        chosen = [for_device(inbound, device_id) for inbound in inbounds]
        kept = [inbound for inbound in chosen if has_content(inbound)]
        items = []
        for inbox_id, inbound in zip(await pipeline.store_all(kept), kept, strict=True):
            routing = await self._policy.route(inbound)
            if isinstance(routing, PendingEvent):
                await pipeline.unroutable(inbox_id, routing)
            else:
                items.append(pipeline.item(self._policy, inbox_id, inbound, 0, routing))
        await pipeline.process_all(items)

    async def process(self, inbox_id: int, inbound: Inbound, *, attempts: int) -> None:
        """Name the sender of one groupchat inbox row, then decrypt and commit it through the
        inbound pipeline (a row whose sender nobody can name is dropped, with an event)."""
        pipeline = self._session.inbound
        routing = await self._policy.route(inbound)
        if isinstance(routing, PendingEvent):
            await pipeline.unroutable(inbox_id, routing)
            return
        await pipeline.process_all(
            [pipeline.item(self._policy, inbox_id, inbound, attempts, routing)]
        )

    async def retry(self, item: InboxItem, inbound: Inbound) -> None:
        """Process a groupchat row left in the inbox by a crash (`Session.drain_inbox` hands
        rows whose `message_type` is groupchat here). A row of a room we have not joined
        (yet) stays: without the room's occupants its sender cannot be named; `start`
        drains such rows again once the bookmarked rooms are joined."""
        if bare_jid(inbound.sender) not in self._joined:
            return
        await self._process(item.id, inbound, item.attempts + 1)

    async def drain_inbox(self) -> int:
        """Process the groupchat rows a crash left in the inbox (after the rooms are joined,
        so occupants can be mapped to real JIDs). `Session.drain_inbox` must leave those rows
        alone. Rows of rooms we are not in stay for a later start.

        Returns:
            How many rows were processed.
        """
        items: list[InboxItem] = await self._runner.read(lambda uow: uow.inbox.pending(INBOX_SCAN))
        done = 0
        for item in items:
            try:
                inbound = Inbound.from_bytes(item.stanza)
            except (ValueError, KeyError, TypeError):
                continue  # Session.drain_inbox deletes unreadable rows
            if inbound.message_type == "groupchat" and bare_jid(inbound.sender) in self._joined:
                try:
                    await self.retry(item, inbound)
                except Exception as error:  # left in the inbox for the next start
                    log.warning("a groupchat inbox row stays for later: %s", type(error).__name__)
                    continue
                done += 1
        return done

    async def sender(self, room: str, nick: str, inbound: Inbound) -> str | None:
        """The real bare JID behind `room/nick`, or None when nobody can be named: from the
        room's presence, else (an archived message whose occupant left) the one member whose
        device list holds the sending device id."""
        real = self._rooms.real_jid(room, nick)
        if real is not None:
            return real
        state = self._joined.get(room)
        if state is not None and nick == state.nick:
            return self.own
        element = inbound.encrypted
        if element is None or state is None:
            return None
        owners = []
        for jid in sorted({*state.members, self.own}):
            with contextlib.suppress(TransportError):
                listed = await self._directory.fetch_device_list(element.namespace, jid)
                if element.sender_device_id in listed.device_ids:
                    owners.append(jid)
        return owners[0] if len(owners) == 1 else None

    def encrypted_room(self, room: str) -> bool:
        """Whether `room` is joined and qualifies for OMEMO."""
        state = self._joined.get(room)
        return state is not None and state.refusal is None

    def advance_room(self, uow: UnitOfWork, room: str, stanza_id: str) -> None:
        """Store the room archive position after `stanza_id` (inside the unit of work)."""
        key = room_key(room)
        prefs = RoomPrefs.from_json(uow.settings.get(key))
        uow.settings.set(key, replace(prefs, archive_after=stanza_id).to_json())

    async def prefs(self, room: str) -> RoomPrefs:
        """A room's remembered choices."""
        return await self._runner.read(
            lambda uow: RoomPrefs.from_json(uow.settings.get(room_key(room)))
        )

    async def set_prefs(self, room: str, prefs: RoomPrefs) -> None:
        """Remember a room's choices."""
        await self._runner.write(lambda uow: uow.settings.set(room_key(room), prefs.to_json()))

    async def catch_up(self, room: str) -> int:
        """Fetch what the room archived since our position (the newest `FIRST_CATCH_UP`
        messages the first time) through the ordinary inbound path.

        Returns:
            How many archived messages were processed.

        Raises:
            TransportError: the archive could not be queried.
        """
        room = bare_jid(room)
        prefs = await self.prefs(room)
        after, done = prefs.archive_after, 0
        engine = self._session.engine
        own_mode = not engine.catching_up
        if own_mode:
            engine.begin_catch_up()
        try:
            while True:
                page, complete, last = await self._archive_page(room, after)
                await self._keep_and_process_page(page)
                done += len(page)
                if last is not None and last != after:
                    after = last
                    current = await self.prefs(room)
                    await self.set_prefs(room, replace(current, archive_after=after))
                if complete or not page or prefs.archive_after is None:
                    break
        finally:
            if own_mode:
                await finish_catch_up(self._session, self._runner)
        return done

    async def _archive_page(
        self, room: str, after: str | None
    ) -> tuple[list[Inbound], bool, str | None]:
        page = await self._rooms.query_archive(
            room,
            after=after,
            max_results=PAGE_SIZE if after is not None else FIRST_CATCH_UP,
            last_page=after is None,
        )
        return list(page.messages), page.complete, page.last_id
