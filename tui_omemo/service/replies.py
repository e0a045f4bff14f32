"""XEP-0461 replies (issue #17): what a received reply shows and what a sent one carries.

A received reply names the message it answers (`reply_to`: its wire id, kept in the archived
row's flags). Its body starts with a XEP-0428 fallback quoting that message for clients
without replies; the fallback is left out of the shown text only when its range is valid
(0 ≤ start < end ≤ the body's length, in code points); otherwise the body is shown as it came.
Where the `<reply>` is believed: next to OMEMO 0.3 outside the encryption (as corrections),
with OMEMO 2 only inside the SCE envelope.
"""

from __future__ import annotations

from collections.abc import Mapping

from tui_omemo.model import ReplyRef

REPLY_TO_FLAG = "reply_to"
QUOTE_CHARS = 80
"""How much of the answered message the fallback quotes (its first line, shortened)."""


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


def reply_to(flags: Mapping[str, object]) -> str | None:
    """The wire id a message answers, or None."""
    value = flags.get(REPLY_TO_FLAG)
    return value if isinstance(value, str) else None
