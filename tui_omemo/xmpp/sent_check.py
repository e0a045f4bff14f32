"""Which of our unconfirmed messages does the server already have? (DESIGN.md §3 invariant 10)

After a fresh session (no resumption, so no `<resumed h>` to tell what arrived) the outbox
would send every unconfirmed message again, and a message the server took just before the
connection broke would reach the contact twice: our receivers drop the copy, but other clients
report a failed decryption for it (its message key is already used). The server stores every
message we send in our own archive (XEP-0313), with the origin-id we gave it, so the outbox
asks the archive first: pages of our archive from the oldest unconfirmed message on, looking
for our own messages with those origin-ids (`archived_origin_ids`). What is found is not sent
again; what is not found, or when the archive cannot be asked, is (a duplicate beats a loss).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Protocol

from tui_omemo.model import bare_jid
from tui_omemo.xmpp.mam import ArchivePage

PAGE_SIZE = 100
MAX_PAGES = 20
"""At most this many pages are read (a window with thousands of messages since the oldest
unconfirmed one): what is not found within them is sent again."""
LOOKUP_TIMEOUT = 15.0


class ArchiveReader(Protocol):
    """What the lookup needs of `XmppClient`."""

    @property
    def bare_jid(self) -> str: ...

    async def query_archive(
        self,
        *,
        start: datetime | None = None,
        after: str | None = None,
        max_results: int = 100,
        within: float = 60,
    ) -> ArchivePage: ...


async def archived_origin_ids(
    client: ArchiveReader, origin_ids: Collection[str], since: datetime
) -> set[str]:
    """The origin-ids among `origin_ids` of messages we sent that our archive holds at or
    after `since`.

    Raises:
        TransportError: the archive could not be asked (an error reply, a timeout, no stream).
    """
    wanted, found = set(origin_ids), set[str]()
    own, after = client.bare_jid, None
    for _ in range(MAX_PAGES):
        page = await client.query_archive(
            start=since, after=after, max_results=PAGE_SIZE, within=LOOKUP_TIMEOUT
        )
        for archived in page.messages:
            message = archived.message
            origin_id = message.origin_id or message.message_id
            if origin_id in wanted and bare_jid(message.sender) == own:
                found.add(origin_id)
        if found == wanted or page.complete or page.last is None:
            break
        after = page.last
    return found
