"""The room's stanza-id of our own room messages (XEP-0359; what a reply in a room names,
XEP-0461, `service/replies.py`).

We archive our message before it leaves, so its row has no stanza-id: the room stamps one on
the copy it reflects to us (and on the copy in its archive). The inbound pipeline knows that
copy by its origin-id and never decrypts it; here the row learns the id from it, once, and the
chat hears of it (a `MessageSent` of the row again, its `message_id` now the room's) so that
a reply to it in the open chat names it.
"""

from __future__ import annotations

from collections.abc import Iterable

from tui_omemo.service.conversation import Routing
from tui_omemo.service.corrections import corrected_id
from tui_omemo.service.ports import Inbound
from tui_omemo.store import ArchivedMessage, UnitOfWork


def own_copies(
    known: Iterable[tuple[int | None, Inbound, Routing]], own: str
) -> list[tuple[int, str]]:
    """(archive id, the room's stanza-id) of the known copies of our own room messages."""
    return [
        (archive_id, stanza_id)
        for archive_id, inbound, routing in known
        if archive_id is not None
        and (stanza_id := inbound.stanza_id)
        and routing.room is not None
        and routing.sender == own
    ]


def learn(uow: UnitOfWork, copies: Iterable[tuple[int, str]]) -> list[ArchivedMessage]:
    """Give the rows of `copies` their stanza-id (when they have none); the messages that
    learnt it (corrections apart: nobody answers those)."""
    rows = []
    for archive_id, stanza_id in copies:
        if uow.archive.learn_stanza_id(archive_id, stanza_id):
            row = uow.archive.get(archive_id)
            if row is not None and corrected_id(row.flags) is None:
                rows.append(row)
    return rows
