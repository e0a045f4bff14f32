"""XEP-0313 Message Archive Management: build one page query, read its results.

Pure functions on `xml.etree.ElementTree` elements; `XmppClient.query_archive` does the I/O.
Every query gets a fresh random `queryid`. A result is accepted only when it carries the
`queryid` of a query we opened **and** comes from the archive we asked (our own bare JID, or the
room for a MUC archive); anything else is refused with `ForgedArchiveResult` (DESIGN.md
invariant 6), so nobody can inject "history" by sending us result-shaped messages.
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime

from tui_omemo.model import bare_jid
from tui_omemo.xmpp.errors import TransportError
from tui_omemo.xmpp.messages import (
    CLIENT,
    FORWARD,
    MAM,
    IncomingMessage,
    parse_delay,
    read_message,
)

RSM = "http://jabber.org/protocol/rsm"
DATA_FORMS = "jabber:x:data"
MAX_PAGE = 1000


class ForgedArchiveResult(TransportError):
    """A MAM result for a query we did not open, or from an archive we did not ask."""


@dataclass(frozen=True, slots=True)
class ArchivedMessage:
    """One archived message.

    Attributes:
        archive_id: the result `id` (the archive's stanza-id, usable as `after` to resume).
        message: the forwarded message; its `timestamp` is the archive's delay stamp and its
            `stanza_id` the archive id.
    """

    archive_id: str
    message: IncomingMessage


@dataclass(frozen=True, slots=True)
class ArchivePage:
    """One page of results.

    Attributes:
        messages: the results, oldest first.
        complete: True when the archive has nothing after this page.
        last: the id to pass as `after` for the next page (None when the page is empty).
    """

    messages: tuple[ArchivedMessage, ...]
    complete: bool
    last: str | None


def new_query_id() -> str:
    """A fresh, unguessable queryid."""
    return secrets.token_urlsafe(12)


def build_query(
    query_id: str,
    *,
    with_jid: str | None = None,
    start: datetime | None = None,
    after: str | None = None,
    max_results: int = 100,
    last_page: bool = False,
) -> ET.Element:
    """The `<query xmlns='urn:xmpp:mam:2'>` for one page.

    Args:
        query_id: from `new_query_id()`.
        with_jid: only messages with this contact.
        start: only messages at or after this time.
        after: continue after this archive id.
        max_results: page size, 1 … 1000.
        last_page: ask for the newest page (RSM `<before/>`) instead of the oldest.
    """
    max_results = max(1, min(max_results, MAX_PAGE))
    query = ET.Element(f"{{{MAM}}}query", queryid=query_id)
    form = ET.SubElement(query, f"{{{DATA_FORMS}}}x", type="submit")
    _field(form, "FORM_TYPE", MAM, hidden=True)
    if with_jid is not None:
        _field(form, "with", with_jid)
    if start is not None:
        _field(form, "start", start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    rsm = ET.SubElement(query, f"{{{RSM}}}set")
    ET.SubElement(rsm, f"{{{RSM}}}max").text = str(max_results)
    if after is not None:
        ET.SubElement(rsm, f"{{{RSM}}}after").text = after
    elif last_page:
        ET.SubElement(rsm, f"{{{RSM}}}before")
    return query


def _field(form: ET.Element, var: str, value: str, *, hidden: bool = False) -> None:
    field = ET.SubElement(form, f"{{{DATA_FORMS}}}field", var=var)
    if hidden:
        field.set("type", "hidden")
    ET.SubElement(field, f"{{{DATA_FORMS}}}value").text = value


def read_result(
    message: ET.Element, *, query_id: str, archive_jid: str, own_bare_jid: str
) -> ArchivedMessage:
    """Read one result message of the query `query_id` on `archive_jid`.

    Raises:
        ForgedArchiveResult: wrong or missing queryid, wrong sender, or no forwarded message.
        MalformedStanza: when the forwarded message has a malformed `<encrypted>`.
    """
    result = message.find(f"{{{MAM}}}result")
    if result is None or result.get("queryid") != query_id:
        raise ForgedArchiveResult("MAM result for a query we did not open")
    sender = message.get("from")
    if sender is not None and ("/" in sender or bare_jid(sender) != bare_jid(archive_jid)):
        raise ForgedArchiveResult(f"MAM result from {sender!r}, not from {archive_jid}")
    archive_id = result.get("id")
    forwarded = result.find(f"{{{FORWARD}}}forwarded")
    inner = forwarded.find(f"{{{CLIENT}}}message") if forwarded is not None else None
    if not archive_id or forwarded is None or inner is None:
        raise ForgedArchiveResult("MAM result without id or forwarded message")
    read = read_message(
        inner, own_bare_jid, archive_id=archive_id, forwarded_delay=parse_delay(forwarded)
    )
    return ArchivedMessage(archive_id, read)


def read_fin(iq_result: ET.Element) -> tuple[bool, str | None]:
    """`(complete, last)` from the `<fin>` of the query's IQ result."""
    fin = iq_result.find(f"{{{MAM}}}fin")
    if fin is None:
        return True, None
    complete = fin.get("complete", "false").strip().lower() in {"true", "1"}
    last = fin.find(f"{{{RSM}}}set/{{{RSM}}}last")
    return complete, (last.text if last is not None else None)
