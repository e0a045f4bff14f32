"""`DeviceInfo` rows from the store: one account's devices with fingerprint, trust and label.

The running service lists devices through these functions, and so does the account screen's
editor when no service runs (after a failed login): both read the same rows the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tui_omemo.model import TrustLevel
from tui_omemo.protocol.verification import format_fingerprint
from tui_omemo.service.api import DeviceInfo
from tui_omemo.store import IdentityRecord, UnitOfWork


@dataclass(frozen=True, slots=True)
class ThisDevice:
    """Our own account and device: how our own row is told apart from the others."""

    own_jid: str
    device_id: int
    identity_key: bytes


def latest_identities(records: Sequence[IdentityRecord]) -> list[IdentityRecord]:
    """The newest identity key per device id (a changed key replaces the old one)."""
    latest: dict[int, IdentityRecord] = {}
    for record in records:
        current = latest.get(record.device_id)
        if current is None or record.first_seen >= current.first_seen:
            latest[record.device_id] = record
    return list(latest.values())


def time_of(ms: int | None) -> datetime | None:
    """A stored millisecond timestamp as an aware datetime."""
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def device_infos(uow: UnitOfWork, jid: str, this: ThisDevice) -> list[DeviceInfo]:
    """Every known device of `jid` (ours too, this device always included), by id."""
    own = jid == this.own_jid
    records = uow.devices.of(jid)
    by_id = {record.device_id: record for record in latest_identities(uow.trust.identities(jid))}
    ids = {record.device_id for record in records} | set(by_id)
    if own:
        ids.add(this.device_id)
    result = []
    for device_id in sorted(ids):
        listed = [record for record in records if record.device_id == device_id]
        identity = by_id.get(device_id)
        here = own and device_id == this.device_id
        key = this.identity_key if here else (identity.identity_key if identity else None)
        last = max((r.last_message or 0 for r in listed), default=0) or None
        result.append(
            DeviceInfo(
                bare_jid=jid,
                device_id=device_id,
                fingerprint="" if key is None else format_fingerprint(key.hex()),
                trust=TrustLevel.VERIFIED
                if here
                else (identity.trust if identity else TrustLevel.UNDECIDED),
                active=here or any(record.active for record in listed),
                namespaces=tuple(sorted({record.namespace for record in listed})),
                own=own,
                this_device=here,
                label=next((r.label for r in listed if r.label), None),
                last_seen=time_of(last),
            )
        )
    return result
