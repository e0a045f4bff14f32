"""Plain values shared by every layer: namespaces, trust levels, devices, messages, the form
of a certificate pin.

Nothing here does I/O. Values are frozen so that they can cross threads (the store's
runner thread, the event loop) without copies.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

_HEX_PIN = re.compile(r"[0-9A-Fa-f]{64}")


class Namespace(enum.StrEnum):
    """The two OMEMO versions, named by their XML namespace."""

    LEGACY = "eu.siacs.conversations.axolotl"  # OMEMO 0.3, what Conversations, Dino, Gajim speak
    V2 = "urn:xmpp:omemo:2"

    @property
    def label(self) -> str:
        """The short name shown to people and used on the command line ("0.3" or "2")."""
        return "0.3" if self is Namespace.LEGACY else "2"

    @classmethod
    def from_label(cls, label: str) -> Namespace:
        """Parse "0.3" or "2" (as typed on the command line).

        Raises:
            ValueError: for anything else.
        """
        for namespace in cls:
            if namespace.label == label:
                return namespace
        raise ValueError(f"unknown OMEMO version {label!r}: use 0.3 or 2")


class Arrival(enum.StrEnum):
    """How an incoming message reached us: the one answer the XMPP layer gives (`Received`),
    the inbox keeps (`Inbound`, the inbox table) and the service checks (DESIGN.md §3.6)."""

    LIVE = "live"
    OFFLINE = "offline"
    """Live, but with a delay stamp: the server stored it while we were away."""
    CARBON_RECEIVED = "carbon_received"
    """A carbon copy of a message another client of ours received."""
    CARBON_SENT = "carbon_sent"
    """A carbon copy of a message another client of ours sent."""
    MAM = "mam"
    """A result of a MAM query we opened (our archive or a room's)."""

    @property
    def wrapped(self) -> bool:
        """Forwarded inside a carbon or a MAM result, whose wrapper must be authenticated."""
        return self not in (Arrival.LIVE, Arrival.OFFLINE)


class TrustLevel(enum.StrEnum):
    """The closed set of trust states of one device (identity key) of one bare JID."""

    UNDECIDED = "undecided"
    BLINDLY_TRUSTED = "blindly_trusted"
    VERIFIED = "verified"
    DISTRUSTED = "distrusted"


def bare_jid(jid: str) -> str:
    """The bare JID (localpart@domain, lower-cased domain and localpart) of a full or bare JID.

    Resource parts keep their case; they are dropped here.
    """
    bare = jid.split("/", 1)[0]
    return bare.lower()


@dataclass(frozen=True, slots=True)
class DeviceRef:
    """One OMEMO device: a bare JID and a device id (1 … 2^31−1)."""

    bare_jid: str
    device_id: int


def normalize_pin(text: str) -> str:
    """A certificate pin in the form `fingerprint` prints (`AA:BB:…`, 32 pairs).

    Accepts 64 hex digits with or without colons, spaces, and an optional `SHA256:` prefix.

    Raises:
        ValueError: anything else (the reason in words).
    """
    raw = text.strip()
    if raw.upper().startswith(("SHA256:", "SHA-256:")):
        raw = raw.split(":", 1)[1]
    compact = raw.replace(":", "").replace(" ", "")
    if not _HEX_PIN.fullmatch(compact):
        raise ValueError(
            f"{text!r} is not a SHA-256 certificate fingerprint (64 hex digits, colons allowed)"
        )
    upper = compact.upper()
    return ":".join(upper[i : i + 2] for i in range(0, len(upper), 2))


@dataclass(frozen=True, slots=True)
class ReplyRef:
    """A XEP-0461 reply: the id of the message answered, its author's JID (`to`, may be None)
    and the XEP-0428 fallback range of the body that quotes it (code points, None when the
    message has no fallback for replies)."""

    id: str
    to: str | None = None
    start: int | None = None
    end: int | None = None


class AckKind(enum.StrEnum):
    """What a contact's device says about one of our messages."""

    RECEIVED = "received"
    """A delivery receipt (XEP-0184): a device of the contact has it."""
    DISPLAYED = "displayed"
    """A displayed marker (XEP-0333): the contact has seen it (read)."""


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """A receipt or displayed marker as it arrived: who sent it (full JID, as claimed by the
    stanza's `from`) and the id of the message it acknowledges. `chat` is set only for our own
    displayed marker carbon-copied to us (XEP-0280 sent carbon, its wrapper from our own bare
    JID): the chat another device of ours read ("read elsewhere")."""

    kind: AckKind
    sender: str
    message_id: str
    chat: str | None = None
