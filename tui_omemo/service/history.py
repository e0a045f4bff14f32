"""MAM catch-up on connect, as a mode (DESIGN.md §3.1, OMEMO-WIRE.md §6).

From the last stanza-id we processed, page through our own archive (only results of queries
we opened are accepted: the adapter routes them to the query, the service rejects any other)
and push each page through the ordinary inbound pipeline as one batch (one inbox write, one
unit of work for the whole page), where dedupe keeps duplicates silent. While catching up,
prekeys used by key exchanges are hidden instead of deleted; at the end they are deleted, the
bundles republished, and every device that built a session during catch-up gets an empty
message, moving it off a possibly double-used prekey. A profile that
never caught up starts at the archive's newest message (older ones were encrypted before
this device existed); when its archive was empty then, the next catch-up reads it from the
start.

A catch-up ends at the first page holding an acknowledgement we sent since coming online
(`Transport.sent_since_online`): the server archives our receipts after everything that was
waiting, and whatever others sent after them reached us live (presence went out before the
catch-up). Without that stop, a catch-up paged on through the receipts it was itself sending,
one for each message it processed: twice the results and the server queries for 1,000
messages (`benchmarks/e2e.py`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from tui_omemo.model import Namespace
from tui_omemo.protocol.errors import ProtocolError
from tui_omemo.service.api import Progress, ServiceEvent
from tui_omemo.service.ports import MamPage, Transport, TransportError
from tui_omemo.service.runner import DbRunner
from tui_omemo.service.session import LAST_STANZA_ID, Session
from tui_omemo.service.state import apply_state_changes

PAGE_SIZE = 100
"""Messages per MAM page. Each page costs the server a query (Prosody's internal archive
storage: ~0.1 s of its CPU per query at a thousand messages), so pages are not small; the
loop stays responsive anyway, because socket reads are capped (16 KiB per step) and the
page is processed message by message between DB-thread hops."""
TASK = "catch-up"


class CatchUp:
    """One catch-up run.

    Args:
        session: the pipelines (its `accept` processes each archived message).
        transport: MAM queries.
        runner: the DB thread (the last stanza-id is kept in the settings table).
        emit: progress events.
        page_size: messages per MAM page.
        after_page: called once each page was processed (read-elsewhere markers whose
            message came in that page, `service/read_elsewhere.py`).
    """

    def __init__(
        self,
        session: Session,
        transport: Transport,
        runner: DbRunner,
        emit: Callable[[ServiceEvent], None],
        *,
        page_size: int = PAGE_SIZE,
        after_page: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._session = session
        self._after_page = after_page
        self._transport = transport
        self._runner = runner
        self._emit = emit
        self._page_size = page_size

    async def last_stanza_id(self) -> str | None:
        """Where the next catch-up starts."""
        value = await self._runner.read(lambda uow: uow.settings.get(LAST_STANZA_ID))
        return value if isinstance(value, str) else None

    async def _remember(self, stanza_id: str) -> None:
        await self._runner.write(lambda uow: uow.settings.set(LAST_STANZA_ID, stanza_id))

    async def run(self) -> int:
        """Catch up; returns how many archived messages were processed.

        Raises:
            TransportError: the archive could not be queried (catch-up mode is left cleanly).
        """
        position = await self.last_stanza_id()
        if position is None:
            # First start: begin at the archive's newest message; an empty archive is
            # remembered as "" (= from its start), so nothing arriving later is skipped.
            await self._remember(await self._transport.mam_last_id() or "")
            return 0
        after = position or None
        engine = self._session.engine
        if engine.catching_up:
            return 0  # one catch-up at a time
        engine.begin_catch_up()
        done = 0
        try:
            while True:
                page = await self._transport.mam_page(after, self._page_size)
                await self._session.accept_all_safely(page.messages)
                if self._after_page is not None:
                    await self._after_page()
                done += len(page.messages)
                if page.last_id is not None and page.last_id != after:
                    after = page.last_id
                    await self._remember(after)
                complete = page.complete or self._reached_online(page)
                self._emit(Progress(TASK, done, done if complete else done + self._page_size))
                if complete or not page.messages:
                    break
        finally:
            await finish_catch_up(self._session, self._runner)
        return done

    def _reached_online(self, page: MamPage) -> bool:
        """The page holds one of our acknowledgements sent since we came online."""
        sent = self._transport.sent_since_online
        return any(sent(item.sender, item.message_id) for item in page.messages)


async def finish_catch_up(session: Session, runner: DbRunner) -> None:
    """Leave catch-up mode: delete hidden prekeys, republish, send the empty messages.

    Shared by our own archive's catch-up (`CatchUp.run`) and a room archive's
    (`muc.GroupChats.catch_up`).

    Args:
        session: the pipelines (its engine, and the sessions built while catching up).
        runner: the DB thread (the prekey deletions are committed through it).
    """
    changes = await session.engine.end_catch_up()
    if changes:
        await runner.write(lambda uow: apply_state_changes(uow, changes))
        for namespace in Namespace:
            with contextlib.suppress(TransportError):  # republished on the next connect
                await session.publish_bundle(namespace)
    pending, session.catch_up_sessions = session.catch_up_sessions, set()
    for namespace, device in sorted(
        pending, key=lambda item: (item[0], item[1].bare_jid, item[1].device_id)
    ):
        try:
            await session.send_empty(namespace, device)
        except (ProtocolError, TransportError):
            continue
