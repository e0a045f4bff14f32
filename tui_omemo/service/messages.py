"""What a message looks like outside the pipelines: the UI's `ChatMessage` from an archive
row, the `MessageSent` of a message just archived, a chat's remembered choices (`ChatPrefs`)
and the words of a skipped device."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tui_omemo.model import Namespace, TrustLevel
from tui_omemo.protocol.results import SkipReason
from tui_omemo.service.api import ChatMessage, Delivery, MessageSent, MessageTrust
from tui_omemo.service.corrections import corrected_id, is_edited
from tui_omemo.service.files import describe as describe_file
from tui_omemo.service.replies import answered_id, reply_to
from tui_omemo.store import ArchivedMessage, Direction, NewMessage
from tui_omemo.store.delivery import DELIVERY_FLAG
from tui_omemo.store.outbox import PENDING_FLAG

BODY_HINT = "I sent you an OMEMO encrypted message but your client doesn't support it."

SKIP_WORDS: dict[SkipReason, str] = {
    SkipReason.UNTRUSTED: "distrusted device",
    SkipReason.UNDECIDED: "undecided device: verify it or decide to trust it",
    SkipReason.NO_BUNDLE: "no key bundle published (or it could not be fetched)",
    SkipReason.INVALID_BUNDLE: "its key bundle is invalid",
    SkipReason.NO_DEVICES: "no OMEMO device published",
    SkipReason.INACTIVE: "not on the current device list",
    SkipReason.OWN_DEVICE: "this device",
    SkipReason.STALE: "stale own device",
    SkipReason.OTHER_VERSION: "publishes only the other OMEMO version",
}


@dataclass(frozen=True, slots=True)
class ChatPrefs:
    """Per-chat choices, remembered in the settings table under `chat/<bare_jid>`.

    Attributes:
        plaintext: the user chose to send unencrypted to this contact (only used while the
            contact publishes no OMEMO device).
        version: a forced OMEMO version, or None for automatic.
    """

    plaintext: bool = False
    version: Namespace | None = None

    def to_json(self) -> dict[str, object]:
        """The stored form."""
        return {
            "plaintext": self.plaintext,
            "version": None if self.version is None else self.version.value,
        }

    @classmethod
    def from_json(cls, value: object) -> ChatPrefs:
        """Read the stored form (anything unreadable gives the defaults)."""
        if not isinstance(value, dict):
            return cls()
        version = value.get("version")
        return cls(
            bool(value.get("plaintext", False)),
            Namespace(version) if version in {n.value for n in Namespace} else None,
        )


def prefs_key(peer: str) -> str:
    """The settings key of a chat's preferences."""
    return f"chat/{peer}"


def to_chat_message(row: ArchivedMessage) -> ChatMessage:
    """An archive row as the UI shows it."""
    failure = row.flags.get("failure")
    omemo = Namespace.from_label(row.omemo_version) if row.omemo_version else None
    if isinstance(failure, str):
        trust = MessageTrust.FAILED
    elif omemo is None:
        trust = MessageTrust.UNENCRYPTED
    elif row.trust is TrustLevel.VERIFIED:
        trust = MessageTrust.VERIFIED
    elif row.trust is TrustLevel.BLINDLY_TRUSTED:
        trust = MessageTrust.BLIND
    else:
        trust = MessageTrust.UNTRUSTED
    return ChatMessage(
        archive_id=row.id,
        peer=row.peer,
        outgoing=row.direction is Direction.OUT,
        sender=row.sender_bare_jid,
        time=datetime.fromtimestamp(row.timestamp / 1000, UTC),
        body=row.body,
        trust=trust,
        omemo=omemo,
        sender_device_id=row.sender_device,
        nick=row.nick,
        failure=failure if isinstance(failure, str) else None,
        delivery=_delivery(row),
        file=describe_file(row.body),  # issue 18: a file message shows its file, not the link
        edited=is_edited(row.flags),
        corrects=corrected_id(row.flags),
        reply_to=reply_to(row.flags),
        message_id=answered_id(row),
    )


def _delivery(row: ArchivedMessage) -> Delivery:
    """pending (in the outbox) → sent → received → read (issue 17; incoming rows: sent). A
    receipt proves the server had it, even before the outbox heard so."""
    mark = row.flags.get(DELIVERY_FLAG)
    if mark in {"received", "read"}:
        return Delivery(mark)
    return Delivery.PENDING if row.flags.get(PENDING_FLAG) else Delivery.SENT


def sent_message(archive_id: int, message: NewMessage) -> MessageSent:
    """The event for our message just archived as it is sent (pending: the server does not
    have it yet); built from the row written, without reading it back."""
    row = ArchivedMessage(
        id=archive_id,
        peer=message.peer,
        direction=message.direction,
        sender_bare_jid=message.sender_bare_jid,
        body=message.body,
        timestamp=message.timestamp,
        received_at=message.received_at,
        room=message.room,
        nick=message.nick,
        sender_device=message.sender_device,
        trust=message.trust,
        omemo_version=message.omemo_version,
        stanza_id=message.stanza_id,
        origin_id=message.origin_id,
        message_id=message.message_id,
        flags={**message.flags, PENDING_FLAG: True},
    )
    return MessageSent(to_chat_message(row))
