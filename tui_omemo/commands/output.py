"""How commands print messages: one readable line each, or one JSON object per line.

Message text comes from peers, so the readable form neutralises control and bidi characters
(DESIGN.md §3.9): a peer cannot move the cursor, recolour the terminal or reorder the line.
The JSON form keeps the text exactly (JSON escapes it).

An archived message is read through `ArchivedRow`, the fields these views need (the store's
`ArchivedMessage` has them), so that printing imports neither the store nor the service.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from tui_omemo.commands import schema
from tui_omemo.commands.file_view import Saved, file_fields, shown_text
from tui_omemo.model import TrustLevel

OUTGOING = "out"
"""The stored direction of a message we sent (`store.Direction.OUT`, a string enum)."""


class ArchivedRow(Protocol):
    """What the views read of an archived message (`store.ArchivedMessage`)."""

    @property
    def id(self) -> int: ...
    @property
    def peer(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def sender_bare_jid(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def room(self) -> str | None: ...
    @property
    def nick(self) -> str | None: ...
    @property
    def sender_device(self) -> int | None: ...
    @property
    def trust(self) -> TrustLevel | None: ...
    @property
    def omemo_version(self) -> str | None: ...
    @property
    def message_id(self) -> str | None: ...
    @property
    def stanza_id(self) -> str | None: ...
    @property
    def flags(self) -> Mapping[str, object]: ...


_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def clean_text(text: str) -> str:
    """`text` safe to write to a terminal on one line.

    Line breaks and tabs become visible escapes (`\\n`, `\\t`); other control characters
    and bidi overrides become U+FFFD.
    """
    out = []
    for char in text:
        if char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char in _BIDI_CONTROLS or unicodedata.category(char) in {"Cc", "Cs"}:
            out.append("\ufffd")
        else:
            out.append(char)
    return "".join(out)


iso_time = schema.iso_ms
"""An epoch time in milliseconds as ISO 8601 UTC (`2026-11-26T06:20:01.123+00:00`)."""


@dataclass(frozen=True, slots=True)
class MessageView:
    """A message as commands print it (from the archive or from the service)."""

    peer: str
    outgoing: bool
    sender: str
    device: int | None
    text: str
    trust: str | None
    omemo: str | None
    stanza_id: str | None
    time_ms: int
    archive_id: int | None = None
    room: str | None = None
    nick: str | None = None
    saved: Saved | None = None
    replaces: str | None = None
    """A correction (XEP-0308): the wire id of the message it replaces."""
    edited: bool = False
    delivery: str | None = None
    """Our messages: pending, sent, received or read (issue 17); None for incoming ones."""
    message_id: str | None = None
    """The XMPP `id` the message was sent with: what a one-to-one reply's `reply_to` names
    (a room reply names the room's `stanza_id`, XEP-0461)."""
    reply_to: str | None = None
    """A reply (XEP-0461): the message id (the XMPP `id` it was sent with) of the message
    it answers; its quoted fallback is not part of `text`."""

    @classmethod
    def from_archive(
        cls, message: ArchivedRow, saved: Saved | None = None, *, as_sent: bool = False
    ) -> MessageView:
        """The view of an archived message (`saved`: where its file was downloaded to;
        `as_sent`: a corrected message with the text it came with, not edited: `listen`
        prints its corrections after it)."""
        original = message.flags.get("original") if as_sent else None
        if isinstance(original, str):
            return replace(cls.from_archive(message, saved), text=original, edited=False)
        return cls(
            peer=message.peer,
            outgoing=message.direction == OUTGOING,
            sender=message.sender_bare_jid,
            device=message.sender_device,
            text=message.body,
            trust=None if message.trust is None else message.trust.value,
            omemo=message.omemo_version,
            stanza_id=message.stanza_id,
            time_ms=message.timestamp,
            archive_id=message.id,
            room=message.room,
            nick=message.nick,
            saved=saved,
            replaces=_replaced(message.flags),
            edited=bool(message.flags.get("edited")),
            delivery=delivery_word(message),
            message_id=message.message_id,
            reply_to=_answered(message.flags),
        )

    def to_json(self) -> str:
        """One `message` object of JSON schema 1 (`commands.schema`) on one line."""
        return schema.dump(
            "message",
            {
                "id": self.archive_id,
                "peer": self.peer,
                "room": self.room,
                "nick": self.nick,
                "direction": "out" if self.outgoing else "in",
                "from": self.sender,
                "device": self.device,
                "text": shown_text(self.text),
                "file": file_fields(self.text, self.saved),
                "encrypted": self.omemo is not None,
                "omemo": self.omemo,
                "trust": schema.trust_word(self.trust),
                "stanza_id": self.stanza_id,
                "time": iso_time(self.time_ms),
                "replaces": self.replaces,
                "edited": self.edited,
                "delivery": self.delivery,
                "reply_to": self.reply_to,
                "message_id": self.message_id,
            },
        )

    def to_line(self) -> str:
        """One readable line: time, direction, sender, encryption and trust, text."""
        arrow = "→" if self.outgoing else "←"
        security = "plaintext" if self.omemo is None else f"OMEMO {self.omemo}"
        if self.trust is not None:
            security += f", {self.trust}"
        when = iso_time(self.time_ms)[:19].replace("T", " ")
        sender = self.sender if self.room is None else f"{self.room}/{self.nick or self.sender}"
        edit = " (correction)" if self.replaces else " (edited)" if self.edited else ""
        edit += " (reply)" if self.reply_to else ""
        text = clean_text(shown_text(self.text))
        return f"{when} {arrow} {clean_text(sender)} [{security}]{edit} {text}"


def _replaced(flags: Mapping[str, object]) -> str | None:
    """The id an accepted correction replaces (a refused one is shown as a message)."""
    replaces = flags.get("replaces")
    return replaces if isinstance(replaces, str) and "corrects" in flags else None


def _answered(flags: Mapping[str, object]) -> str | None:
    """The id of the message a reply answers (`service.replies.REPLY_TO_FLAG`), or None."""
    answered = flags.get("reply_to")
    return answered if isinstance(answered, str) else None


def delivery_word(message: ArchivedRow) -> str | None:
    """How far one of our messages got, from its archive flags: pending (in the outbox),
    sent, received (a receipt), read (a displayed marker); None for an incoming message."""
    if message.direction != OUTGOING:
        return None
    mark = message.flags.get("delivery")
    if isinstance(mark, str) and mark in {"received", "read"}:
        return mark  # a receipt proves the server had it, even before the outbox heard so
    return "pending" if message.flags.get("pending") else "sent"


def failure_json(message: ArchivedRow, reason: str) -> str:
    """A message that could not be decrypted: an `error` object of JSON schema 1 with the
    reason and where it came from (never a body: there is none)."""
    return schema.dump(
        "error",
        {
            "id": message.id,
            "peer": message.peer,
            "room": message.room,
            "nick": message.nick,
            "direction": str(message.direction),
            "from": message.sender_bare_jid,
            "device": message.sender_device,
            "reason": reason,
            "encrypted": message.omemo_version is not None,
            "omemo": message.omemo_version,
            "stanza_id": message.stanza_id,
            "time": iso_time(message.timestamp),
        },
    )
