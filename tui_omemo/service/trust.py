"""Trust policy decisions of the service: BTBV bookkeeping over the store, as UoW functions.

`protocol/trust.py` holds the pure rules; this module applies them to what the store knows.
Everything here is synchronous and runs inside a unit of work on the DB thread, so a trust
record made because of a message commits together with that message (and a failed decryption
records nothing). Identity keys are kept in their 32-byte Curve25519 form for both versions,
so one device that speaks both versions has one fingerprint and one trust decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_never

from tui_omemo.config import Settings
from tui_omemo.events import SecurityEventKind
from tui_omemo.model import DeviceRef, TrustLevel
from tui_omemo.protocol.trust import (
    TrustDisplay,
    TrustMode,
    effective_decision,
    effective_level,
    new_device_level,
)
from tui_omemo.service.api import MessageTrust
from tui_omemo.store import UnitOfWork


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """A security event recorded in a unit of work, to be emitted after it commits."""

    kind: SecurityEventKind
    bare_jid: str
    device_id: int | None
    detail: str


def record_event(uow: UnitOfWork, event: PendingEvent, now: int) -> PendingEvent:
    """Store a security event (detail: one sentence, no secrets) and return it for emitting."""
    uow.security_events.add(
        event.kind.value, now, event.bare_jid, event.device_id, {"detail": event.detail}
    )
    return event


def observe_identity(
    uow: UnitOfWork,
    device: DeviceRef,
    identity_key: bytes,
    mode: TrustMode,
    now: int,
) -> tuple[TrustLevel, list[PendingEvent]]:
    """The stored trust of a device's identity key, recording it (BTBV) when first seen.

    A new device of a JID nobody decided on by hand is blindly trusted under BTBV, else
    undecided; a known device id with a different identity key is a changed identity: it starts
    over under the same rule and raises `IDENTITY_KEY_CHANGED`.

    Returns:
        The stored level and the security events recorded.
    """
    known = uow.trust.get(device.bare_jid, device.device_id, identity_key)
    if known is not None:
        return known, []
    identities = uow.trust.identities(device.bare_jid)
    level = new_device_level([record.trust for record in identities], mode)
    changed = any(record.device_id == device.device_id for record in identities)
    events: list[PendingEvent] = []
    if changed:
        events.append(
            PendingEvent(
                SecurityEventKind.IDENTITY_KEY_CHANGED,
                device.bare_jid,
                device.device_id,
                f"device {device.device_id} of {device.bare_jid} now uses a different identity "
                f"key; it is {level.value.replace('_', ' ')} until you decide",
            )
        )
    else:
        events.append(
            PendingEvent(
                SecurityEventKind.NEW_DEVICE,
                device.bare_jid,
                device.device_id,
                f"new device {device.device_id} of {device.bare_jid}",
            )
        )
    if level is TrustLevel.BLINDLY_TRUSTED:
        uow.trust.set_trust(
            device.bare_jid,
            device.device_id,
            identity_key,
            level,
            now=now,
            actor="btbv",
            reason="new device, nobody verified yet",
        )
        events.append(
            PendingEvent(
                SecurityEventKind.DEVICE_TRUSTED_BLINDLY,
                device.bare_jid,
                device.device_id,
                f"device {device.device_id} of {device.bare_jid} is trusted blindly (BTBV)",
            )
        )
    else:
        uow.trust.record_identity(device.bare_jid, device.device_id, identity_key, now, level)
    for event in events:
        record_event(uow, event, now)
    return level, events


def trust_mode_event(before: Settings, after: Settings, own_jid: str) -> list[PendingEvent]:
    """A `TRUST_MODE_CHANGED` event when a settings change switches the trust mode."""
    if before.trust_mode == after.trust_mode:
        return []
    words = {"btbv": "blind trust before verification (BTBV)", "manual": "manual trust"}
    mode = str(after.trust_mode)
    return [
        PendingEvent(
            SecurityEventKind.TRUST_MODE_CHANGED,
            own_jid,
            None,
            f"the trust mode is now {words.get(mode, mode)}",
        )
    ]


def message_trust(level: TrustLevel, mode: TrustMode) -> MessageTrust:
    """The mark next to a message decrypted from a device with stored trust `level`."""
    display = effective_decision(level, mode).display
    match display:
        case TrustDisplay.VERIFIED:
            return MessageTrust.VERIFIED
        case TrustDisplay.BLIND:
            return MessageTrust.BLIND
        case TrustDisplay.UNDECIDED | TrustDisplay.DISTRUSTED:
            return MessageTrust.UNTRUSTED
        case _:
            assert_never(display)


def stored_trust_for_mark(mark: MessageTrust) -> TrustLevel | None:
    """The archive's trust column for a message mark (the mark is read back from it)."""
    match mark:
        case MessageTrust.VERIFIED:
            return TrustLevel.VERIFIED
        case MessageTrust.BLIND:
            return TrustLevel.BLINDLY_TRUSTED
        case MessageTrust.UNTRUSTED:
            return TrustLevel.UNDECIDED
        case MessageTrust.UNENCRYPTED | MessageTrust.FAILED:
            return None
        case _:
            assert_never(mark)


__all__ = [
    "PendingEvent",
    "effective_level",
    "message_trust",
    "observe_identity",
    "record_event",
    "stored_trust_for_mark",
    "trust_mode_event",
]
