"""XEP-0461 replies (issue #17): what a received reply shows and what a sent one carries.

A received reply names the message it answers (`reply_to`: its wire id, kept in the archived
row's flags). Its body starts with a XEP-0428 fallback quoting that message for clients
without replies; the fallback is left out of the shown text only when its range is valid
(0 ≤ start < end ≤ the body's length, in code points); otherwise the body is shown as it came.
Where the `<reply>` is believed: next to OMEMO 0.3 outside the encryption (as corrections),
with OMEMO 2 only inside the SCE envelope.

What a reply names (XEP-0461): in a 1:1 chat the message's id (its origin-id when it has no
id), addressed to the author's bare JID; in a room the stanza-id the room stamped on it
(XEP-0359, `by` the room), addressed to the author's occupant JID (room/nick). Our own room
message learns that stanza-id from the room's reflection (`service/room_ids.py`); a room
message without one cannot be answered.
"""

from __future__ import annotations

from collections.abc import Mapping

from tui_omemo.model import ReplyRef
from tui_omemo.store import ArchivedMessage

REPLY_TO_FLAG = "reply_to"
QUOTE_CHARS = 80
"""How much of the answered message the fallback quotes (its first line, shortened)."""
NO_ROOM_ID = (
    "that message cannot be answered: the room gave it no stanza-id (XEP-0359), which a "
    "reply in a room names; nothing was sent"
)


def received(body: str, reply: ReplyRef | None) -> tuple[str, dict[str, object]]:
    """The text to show of a received message and the flags of its reply (none for none)."""
    if reply is None:
        return body, {}
    start, end = reply.start, reply.end
    if start is not None and end is not None and 0 <= start < end <= len(body):
        body = body[:start] + body[end:]
    return body, {REPLY_TO_FLAG: reply.id}


def quoting(text: str, original: str, message_id: str, author: str) -> tuple[str, ReplyRef]:
    """The body of a reply to `original` (a "> quoted line" fallback, then `text`) and the
    reply it carries (the fallback's range)."""
    line = (original.strip().splitlines() or [""])[0]
    if len(line) > QUOTE_CHARS:
        line = line[: QUOTE_CHARS - 1] + "…"
    fallback = f"> {line}\n"
    return fallback + text, ReplyRef(message_id, author, 0, len(fallback))


def answered_id(row: ArchivedMessage) -> str | None:
    """The id a reply to `row` names (see the module docstring), or None when it has none."""
    if row.room is not None:
        return row.stanza_id
    return row.message_id or row.origin_id


def author(row: ArchivedMessage) -> str:
    """Who a reply to `row` is addressed to (`to`): the occupant JID in a room."""
    if row.room is not None:
        return f"{row.room}/{row.nick}" if row.nick else row.room
    return row.sender_bare_jid


def reply_to(flags: Mapping[str, object]) -> str | None:
    """The wire id a message answers, or None."""
    value = flags.get(REPLY_TO_FLAG)
    return value if isinstance(value, str) else None


def reply_json(reply: ReplyRef) -> list[object]:
    """A reply in an inbox or outbox row."""
    return [reply.id, reply.to, reply.start, reply.end]


def reply_from_json(value: object) -> ReplyRef | None:
    """A reply written by `reply_json` (None for none)."""
    return None if not isinstance(value, list) else ReplyRef(*value)
