"""Events the service emits for the UI and the command line: plain frozen values.

The UI receives them through exactly one worker draining `service.events()` (DESIGN.md §6);
the command line prints them. They carry no keys and no secrets.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class SecurityEventKind(enum.StrEnum):
    """What happened, in the words the security-events timeline uses."""

    NEW_DEVICE = "new_device"
    IDENTITY_KEY_CHANGED = "identity_key_changed"
    DEVICE_TRUSTED_BLINDLY = "device_trusted_blindly"
    TRUST_CHANGED = "trust_changed"
    PLAINTEXT_IN_ENCRYPTED_CHAT = "plaintext_in_encrypted_chat"
    DECRYPTION_FAILED = "decryption_failed"
    TRUST_MODE_CHANGED = "trust_mode_changed"
    DEVICE_REMOVED = "device_removed"
    FORGED_CORRECTION = "forged_correction"
    """A XEP-0308 correction of a message that does not exist or that someone else wrote."""
    FORGED_ACKNOWLEDGEMENT = "forged_acknowledgement"
    """A receipt or displayed marker for no message we sent to its sender (issue 17)."""


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    """One entry of the security timeline.

    Attributes:
        kind: what happened.
        bare_jid: whose device (our own bare JID for own devices).
        device_id: the device concerned, when there is one.
        detail: one sentence a person can read; never key material or message text.
        occurred_at: when it happened (as stored); None for an event just raised (now).
    """

    kind: SecurityEventKind
    bare_jid: str
    device_id: int | None
    detail: str
    occurred_at: datetime | None = None
