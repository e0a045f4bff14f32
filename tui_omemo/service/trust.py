"""Trust policy decisions of the service: BTBV bookkeeping over the store, as UoW functions.

`protocol/trust.py` holds the pure rules; this module applies them to what the store knows.
Everything here is synchronous and runs inside a unit of work on the DB thread, so a trust
record made because of a message commits together with that message (and a failed decryption
records nothing). Identity keys are kept in their 32-byte Curve25519 form for both versions,
so one device that speaks both versions has one fingerprint and one trust decision.

`decider` builds the engine's `TrustDecider` for a send (1:1 and rooms alike): it records new
identities (BTBV), answers known ones from trust read ahead without a trip to the DB thread,
and skips our own stale devices.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import assert_never

from tui_omemo.config import Settings
from tui_omemo.events import SecurityEvent, SecurityEventKind
from tui_omemo.model import DeviceRef, TrustLevel
from tui_omemo.protocol.engine import TrustDecider
from tui_omemo.protocol.trust import (
    TrustDisplay,
    TrustMode,
    effective_decision,
    effective_level,
    new_device_level,
)
from tui_omemo.service.api import MessageTrust
from tui_omemo.service.clock import now_ms
from tui_omemo.service.runner import DbRunner
from tui_omemo.service.state import KnownTrust
from tui_omemo.store import DeviceRecord, UnitOfWork


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """A security event recorded in a unit of work, to be emitted after it commits.

    `occurred_at` (ms since the epoch) is set by `record_event`: the time stored with it, so
    that the emitted event shows the same time as the timeline read back later."""

    kind: SecurityEventKind
    bare_jid: str
    device_id: int | None
    detail: str
    occurred_at: int | None = None

    def public(self) -> SecurityEvent:
        """The event as the UI gets it, with its time when it was recorded."""
        when = None if self.occurred_at is None else from_ms(self.occurred_at)
        return SecurityEvent(self.kind, self.bare_jid, self.device_id, self.detail, when)


def from_ms(stamp: int) -> datetime:
    """A stored time stamp (ms since the epoch) as an aware UTC datetime."""
    return datetime.fromtimestamp(stamp / 1000, UTC)


def record_event(uow: UnitOfWork, event: PendingEvent, now: int) -> PendingEvent:
    """Store a security event (detail: one sentence, no secrets) and return it for emitting,
    stamped with `now` (emit the returned event, not the one passed in)."""
    uow.security_events.add(
        event.kind.value, now, event.bare_jid, event.device_id, {"detail": event.detail}
    )
    return replace(event, occurred_at=now)


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
    return level, [record_event(uow, event, now) for event in events]


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


def _stale(device: DeviceRef, own_devices: Iterable[DeviceRecord], stale_ms: int) -> bool:
    """Whether `device` is one of our own devices silent for longer than `stale_ms`."""
    now = now_ms()
    return any(
        record.device_id == device.device_id
        and now - (record.last_message or record.first_seen) > stale_ms
        for record in own_devices
    )


def decider(
    runner: DbRunner, settings: Settings, own: str, known: KnownTrust | None = None
) -> tuple[TrustDecider, list[PendingEvent], set[DeviceRef]]:
    """A `TrustDecider` that records new identities (BTBV) and skips stale own devices.

    Args:
        runner: the DB thread (unknown identities are read, and recorded, there).
        settings: the trust mode and the stale-device rule.
        own: our bare JID.
        known: trust read ahead (`read_known_trust`): a known identity is decided from it
            without a trip to the DB thread. Without it every decision reads the store.

    Returns:
        The decider, the list it fills with security events to emit after the send, and
        the set it fills with the own devices it skipped as stale.
    """
    events: list[PendingEvent] = []
    stale: set[DeviceRef] = set()
    stale_ms = settings.stale_after_hours * 3600 * 1000
    mode = TrustMode(settings.trust_mode)
    check_stale = settings.ignore_stale_devices

    def judge(
        device: DeviceRef, level: TrustLevel, own_devices: Iterable[DeviceRecord]
    ) -> TrustLevel:
        if device.bare_jid == own and check_stale and _stale(device, own_devices, stale_ms):
            stale.add(device)
            return TrustLevel.UNDECIDED
        return effective_level(level, mode)

    def own_records(uow: UnitOfWork, device: DeviceRef) -> list[DeviceRecord]:
        return uow.devices.of(own) if device.bare_jid == own and check_stale else []

    def decide(device: DeviceRef, identity_key: bytes) -> tuple[TrustLevel, list[DeviceRecord]]:
        """On the DB thread: a known identity is only read (no write transaction per
        send); a new or changed one is recorded, with its events, in a unit of work."""
        database = runner.database
        with database.snapshot() as uow:
            level = uow.trust.get(device.bare_jid, device.device_id, identity_key)
            if level is not None:
                return level, own_records(uow, device)
        with database.unit_of_work() as uow:
            level, new_events = observe_identity(uow, device, identity_key, mode, now_ms())
            events.extend(new_events)
            return level, own_records(uow, device)

    async def ask(device: DeviceRef, identity_key: bytes) -> TrustLevel:
        level, records = await runner.run(decide, device, identity_key)
        if known is not None:
            known.remember(device, identity_key, level)
        return judge(device, level, records)

    def decide_trust(device: DeviceRef, identity_key: bytes) -> TrustLevel | Awaitable[TrustLevel]:
        level = None if known is None else known.level(device, identity_key)
        if level is not None and known is not None:
            return judge(device, level, known.own_devices)
        return ask(device, identity_key)

    return decide_trust, events, stale


__all__ = [
    "PendingEvent",
    "decider",
    "effective_level",
    "from_ms",
    "message_trust",
    "observe_identity",
    "record_event",
    "stored_trust_for_mark",
    "trust_mode_event",
]
