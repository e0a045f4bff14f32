"""The values the store's repositories take and return.

Frozen, slotted dataclasses so they can cross from the DB thread to the event loop without
copies. Times are integer milliseconds since the Unix epoch (UTC), as in the schema.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from tui_omemo.model import Arrival, Namespace, TrustLevel


class Direction(enum.StrEnum):
    """Whether an archived message was received or sent."""

    IN = "in"
    OUT = "out"


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to archive. `dedupe_keys` (at least one) make appending idempotent.

    `omemo_version` is "0.3", "2" or None for plaintext; `flags` is a small JSON object.
    """

    peer: str
    direction: Direction
    sender_bare_jid: str
    body: str = field(repr=False)
    timestamp: int
    received_at: int
    dedupe_keys: tuple[str, ...]
    room: str | None = None
    nick: str | None = None
    sender_device: int | None = None
    trust: TrustLevel | None = None
    omemo_version: str | None = None
    stanza_id: str | None = None
    origin_id: str | None = None
    message_id: str | None = None
    flags: Mapping[str, object] = field(default_factory=dict)
    stamped: bool = False
    """`timestamp` is a server or delay stamp (catch-up, offline storage): the message is
    placed among the archived ones by it. Otherwise it goes after every archived message
    (arrival order), whatever its time."""


@dataclass(frozen=True, slots=True)
class ArchivedMessage:
    """A message as stored, with its archive id."""

    id: int
    peer: str
    direction: Direction
    sender_bare_jid: str
    body: str = field(repr=False)
    timestamp: int
    received_at: int
    room: str | None
    nick: str | None
    sender_device: int | None
    trust: TrustLevel | None
    omemo_version: str | None
    stanza_id: str | None
    origin_id: str | None
    message_id: str | None
    flags: Mapping[str, object]
    seq: int = 0
    """Its position in the conversation (see `Archive.append`)."""


@dataclass(frozen=True, slots=True, order=True)
class PageCursor:
    """Position in a conversation: page again with `before=` this to get older messages."""

    seq: int
    id: int


@dataclass(frozen=True, slots=True)
class Page:
    """Newest-first messages and the cursor for the next (older) page, None at the start."""

    messages: tuple[ArchivedMessage, ...]
    older: PageCursor | None


@dataclass(frozen=True, slots=True)
class SnippetPart:
    """A piece of a search snippet; `match` marks the words that matched the query."""

    text: str = field(repr=False)
    match: bool = False


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One search result: the message and a short excerpt around the matches."""

    message: ArchivedMessage
    snippet: tuple[SnippetPart, ...] = field(repr=False)

    @property
    def snippet_text(self) -> str:
        """The excerpt as plain text."""
        return "".join(part.text for part in self.snippet)


@dataclass(frozen=True, slots=True)
class InboxItem:
    """A stanza waiting to be processed (still ciphertext)."""

    id: int
    received_at: int
    source: Arrival
    stanza: bytes
    attempts: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """An archived outgoing message the server has not confirmed yet.

    Attributes:
        archive_id: its archive row.
        queued_at: when it was archived (ms since the epoch).
        stanza: the service's serialized stanza, as first sent (opaque to the store).
        attempts: how many times it was handed to a stream.
    """

    archive_id: int
    queued_at: int
    stanza: bytes
    attempts: int


@dataclass(frozen=True, slots=True)
class StateRecord:
    """One entry of the OMEMO core's versioned JSON state."""

    key: str
    version: int
    value: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """A device seen in someone's device list."""

    namespace: Namespace
    bare_jid: str
    device_id: int
    label: str | None
    active: bool
    first_seen: int
    last_seen: int
    last_message: int | None


@dataclass(frozen=True, slots=True)
class IdentityRecord:
    """An identity key of one device and the trust decided for it."""

    bare_jid: str
    device_id: int
    identity_key: bytes
    trust: TrustLevel
    first_seen: int
    decided_at: int | None


@dataclass(frozen=True, slots=True)
class TrustChange:
    """One entry of the trust history: who changed what, when."""

    bare_jid: str
    device_id: int
    identity_key: bytes
    old_trust: TrustLevel | None
    new_trust: TrustLevel
    changed_at: int
    actor: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class RosterItem:
    """A cached roster entry."""

    bare_jid: str
    name: str | None
    subscription: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Account:
    """The profile's XMPP account. The password never appears in `repr`."""

    jid: str
    password: str | None = field(default=None, repr=False)
    server_host: str | None = None
    server_port: int | None = None
    allow_plaintext_loopback: bool = False
    created_at: int = 0


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    """Something security-relevant that happened (new device, failed decryption, …)."""

    id: int
    occurred_at: int
    kind: str
    peer: str | None
    device_id: int | None
    detail: Mapping[str, object]
