"""How commands print messages: one readable line each, or one JSON object per line.

Message text comes from peers, so the readable form neutralises control and bidi characters
(DESIGN.md §3.9): a peer cannot move the cursor, recolour the terminal or reorder the line.
The JSON form keeps the text exactly (JSON escapes it).
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from tui_omemo.store import ArchivedMessage, Direction

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


def iso_time(milliseconds: int) -> str:
    """An epoch time in milliseconds as ISO 8601 UTC (`2026-11-26T06:20:01.123+00:00`)."""
    return datetime.fromtimestamp(milliseconds / 1000, UTC).isoformat(timespec="milliseconds")


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

    @classmethod
    def from_archive(cls, message: ArchivedMessage) -> MessageView:
        """The view of an archived message."""
        return cls(
            peer=message.peer,
            outgoing=message.direction is Direction.OUT,
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
        )

    def to_json(self) -> str:
        """One JSON object on one line (keys: id, peer, direction, from, device, text, trust,
        omemo, stanza_id, time; for a group message also room and nick)."""
        group = {} if self.room is None else {"room": self.room, "nick": self.nick}
        return json.dumps(
            {
                "id": self.archive_id,
                "peer": self.peer,
                "direction": "out" if self.outgoing else "in",
                "from": self.sender,
                "device": self.device,
                "text": self.text,
                "trust": self.trust,
                "omemo": self.omemo,
                "stanza_id": self.stanza_id,
                "time": iso_time(self.time_ms),
                **group,
            },
            ensure_ascii=False,
        )

    def to_line(self) -> str:
        """One readable line: time, direction, sender, encryption and trust, text."""
        arrow = "→" if self.outgoing else "←"
        security = "plaintext" if self.omemo is None else f"OMEMO {self.omemo}"
        if self.trust is not None:
            security += f", {self.trust}"
        when = iso_time(self.time_ms)[:19].replace("T", " ")
        sender = self.sender if self.room is None else f"{self.room}/{self.nick or self.sender}"
        return f"{when} {arrow} {clean_text(sender)} [{security}] {clean_text(self.text)}"


def failure_json(message: ArchivedMessage, reason: str) -> str:
    """A message that could not be decrypted, as one JSON object: ``"type": "error"``, the
    reason, and where it came from (never a body: there is none)."""
    return json.dumps(
        {
            "type": "error",
            "id": message.id,
            "peer": message.peer,
            "from": message.sender_bare_jid,
            "device": message.sender_device,
            "reason": reason,
            "omemo": message.omemo_version,
            "stanza_id": message.stanza_id,
            "time": iso_time(message.timestamp),
            "room": message.room,
            "nick": message.nick,
        },
        ensure_ascii=False,
    )
