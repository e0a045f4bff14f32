"""`Archive`: MAM queries (XEP-0313) on our own archive or a room's, one page at a time.

Only results carrying a query's random `queryid` and coming from the queried archive are
collected by that query; the stanzas are read by `mam`. A result for no open query, or from
another archive, is refused (`rejected_archive_results`) and handed on as a `Received` with its
`Rejection`; late results of a query we stopped waiting for are dropped quietly.
"""

from __future__ import annotations

import collections
import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slixmpp.exceptions import IqError, IqTimeout

from tui_omemo.model import Arrival, bare_jid
from tui_omemo.xmpp.connection import Connection
from tui_omemo.xmpp.errors import ArchiveQueryFailed, MalformedStanza
from tui_omemo.xmpp.mam import (
    ArchivedMessage,
    ArchivePage,
    ForgedArchiveResult,
    build_query,
    new_query_id,
    read_fin,
    read_result,
)
from tui_omemo.xmpp.messages import CLIENT, FORWARD, MAM
from tui_omemo.xmpp.received import Received, Rejection, accepted, refused

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReceivedPage:
    """One page of an archive query as a stanza sink sees it.

    Attributes:
        messages: the results in order, malformed ones included (with their `Rejection`).
        complete: True when the archive has nothing after this page.
        last: the id to pass as `after` for the next page (None when the page is empty).
    """

    messages: tuple[Received, ...]
    complete: bool
    last: str | None


@dataclass(slots=True)
class _Query:
    archive_jid: str
    received: list[Received] = field(default_factory=list)
    archived: list[ArchivedMessage] = field(default_factory=list)


class Archive:
    """The archive queries of one `XmppClient` (its `Connection`)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._queries: dict[str, _Query] = {}
        self._given_up: collections.deque[str] = collections.deque(maxlen=64)
        """Queries we opened and stopped waiting for: results the server still sends for
        them (after a resumption, say) are ours, dropped without a security warning."""
        self.rejected_archive_results = 0
        self.own_messages: Callable[[ET.Element], None] | None = None
        """Called with every `<message>` our own devices sent that a query of our own
        archive returns (read-elsewhere markers, issue 17), after the result was checked."""

    async def query_archive(
        self,
        *,
        with_jid: str | None = None,
        start: datetime | None = None,
        after: str | None = None,
        max_results: int = 100,
        archive: str | None = None,
        last_page: bool = False,
        within: float = 60,
    ) -> ArchivePage:
        """One page of a MAM archive (ours, or a room's when `archive` is given).

        Only results carrying this query's random queryid and coming from the queried archive
        are collected; others are refused and counted in `rejected_archive_results`, and so
        are malformed ones.

        Raises:
            ArchiveQueryFailed: on an error reply or a timeout.
            NotConnected: without a session.
        """
        query, complete, last = await self._query(
            archive,
            within,
            with_jid=with_jid,
            start=start,
            after=after,
            max_results=max_results,
            last_page=last_page,
        )
        if last is None and query.archived:
            last = query.archived[-1].archive_id
        return ArchivePage(tuple(query.archived), complete, last)

    async def archive_page(
        self, *, after: str | None = None, max_results: int = 25, within: float = 60
    ) -> ReceivedPage:
        """One page of our own archive after `after`, as `Received` values (malformed results
        included, with their rejection; `last` is the server's RSM `last`).

        Raises:
            ArchiveQueryFailed: on an error reply or a timeout.
        """
        query, complete, last = await self._query(
            None, within, after=after, max_results=max_results
        )
        return ReceivedPage(tuple(query.received), complete, last)

    async def _query(
        self, archive: str | None, within: float, **options: Any
    ) -> tuple[_Query, bool, str | None]:
        xmpp = self._connection.live()
        query_id = new_query_id()
        query = _Query(bare_jid(archive) if archive else self._connection.bare_jid)
        self._queries[query_id] = query
        iq = xmpp.make_iq_set(ito=query.archive_jid if archive else None)
        iq.xml.append(build_query(query_id, **options))
        try:
            result = await self._connection.answer(iq.send(timeout=within))  # type: ignore[no-untyped-call]
        except (IqError, IqTimeout) as error:
            raise ArchiveQueryFailed(f"archive query on {query.archive_jid} failed") from error
        finally:
            del self._queries[query_id]
            self._given_up.append(query_id)  # late results of it are dropped quietly
        complete, last = read_fin(result.xml)
        return query, complete, last

    def archive_query_open(self, query_id: str) -> bool:
        """True while `query_id` belongs to one of our open archive queries."""
        return query_id in self._queries

    async def last_archive_id(self, archive: str | None = None) -> str | None:
        """The id of the newest message in our archive (or a room's), None when it is empty.
        A catch-up after this id fetches only what arrives later."""
        page = await self.query_archive(max_results=1, archive=archive, last_page=True)
        return page.messages[-1].archive_id if page.messages else page.last

    def _own_message(self, xml: ET.Element, archive_jid: str) -> None:
        """Hand a checked result of our own archive that one of our devices sent to
        `own_messages` (a room's archive: never)."""
        own = bare_jid(self._connection.bare_jid)
        inner = xml.find(f"{{{MAM}}}result/{{{FORWARD}}}forwarded/{{{CLIENT}}}message")
        if self.own_messages is None or inner is None or bare_jid(archive_jid) != own:
            return
        if bare_jid(inner.get("from", "")) == own:
            self.own_messages(inner)

    def result(self, xml: ET.Element) -> Received | None:
        """Collect a result of an open query (None), or refuse it."""
        result = xml.find(f"{{{MAM}}}result")
        query_id = result.get("queryid", "") if result is not None else ""
        wrapper_from = xml.get("from", self._connection.bare_jid)
        query = self._queries.get(query_id)
        if query is None and query_id in self._given_up:
            return None  # a late result of our own query (resent on a resumed stream)
        if query is None:
            self.rejected_archive_results += 1
            log.warning("refusing an archive result for a query we did not open")
            return refused(
                xml,
                Arrival.MAM,
                Rejection.UNSOLICITED_ARCHIVE_RESULT,
                "archive result for a query we never opened",
                wrapper_from,
                query_id,
            )
        try:
            archived = read_result(
                xml,
                query_id=query_id,
                archive_jid=query.archive_jid,
                own_bare_jid=self._connection.bare_jid,
            )
        except ForgedArchiveResult as error:
            self.rejected_archive_results += 1
            log.warning("refusing an archive result: %s", error)
            return refused(
                xml,
                Arrival.MAM,
                Rejection.FORGED_ARCHIVE_RESULT,
                str(error),
                wrapper_from,
                query_id,
            )
        except MalformedStanza as error:
            self.rejected_archive_results += 1
            log.warning("malformed archive result: %s", error)
            inner = xml.find(f"{{{MAM}}}result/{{{FORWARD}}}forwarded/{{{CLIENT}}}message")
            query.received.append(
                refused(
                    xml if inner is None else inner,
                    Arrival.MAM,
                    Rejection.MALFORMED,
                    f"malformed <encrypted>: {error}",
                    wrapper_from,
                    query_id,
                )
            )
            return None
        query.archived.append(archived)
        self._own_message(xml, query.archive_jid)
        query.received.append(
            accepted(archived.message, Arrival.MAM, wrapper_from=wrapper_from, query_id=query_id)
        )
        return None
