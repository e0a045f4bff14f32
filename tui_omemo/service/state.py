"""The protocol core's `StateStore` port over the store's `omemo_state`, through the runner.

Reads go through the DB thread one key at a time (the engine loads what it needs and keeps no
mutable cache); a key staged by the unit of work being assembled (`Staging`, handed by the
pipelines to the store they share with the engine: several stanzas decrypted before one commit,
or several sends encrypted before one) is served from there as it is, and a row read ahead by
it (`Staging.prefetched`, under the engine lock) is decoded from its text. A staged value is
not copied (no JSON round trip per reuse): the engine treats every value it loads as
read-only and builds new objects for each change, as `protocol.ports.Overlay` already relies
on within one operation. The engine never writes during encrypt/decrypt; its `StateChanges`
are committed by `apply_state_changes(uow, changes)` inside the service's unit of work,
together with the archive row, the dedupe keys and the inbox deletion (DESIGN.md §3.1). The direct
`store`/`delete` methods exist for `Engine.create` (a new identity), which writes before any
message exists.

A send reads, in the same trip as its sessions, the trust records of the devices it may encrypt
for (`read_known_trust`), so that deciding a known identity costs no trip of its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from tui_omemo.model import DeviceRef, TrustLevel
from tui_omemo.protocol.ports import DELETE, JsonObject, StateChanges
from tui_omemo.service.runner import DbRunner
from tui_omemo.store import DeviceRecord, UnitOfWork


def _version_of(value: JsonObject) -> int:
    version = value.get("version")
    return version if isinstance(version, int) and not isinstance(version, bool) else 1


def _encode(value: JsonObject) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def load_state(uow: UnitOfWork, key: str) -> JsonObject | None:
    """One state value, decoded (None when absent)."""
    record = uow.state.load(key)
    return None if record is None else _decode(record.value)


def read_ahead(uow: UnitOfWork, keys: Iterable[str]) -> dict[str, str | None]:
    """Stored rows under `keys`, as JSON text (None when absent): for `Staging.prefetched`."""
    rows: dict[str, str | None] = {}
    for key in keys:
        record = uow.state.load(key)
        rows[key] = None if record is None else record.value
    return rows


@dataclass(slots=True)
class KnownTrust:
    """Stored trust read ahead for a send (under the engine lock, in its read-ahead trip).

    Attributes:
        levels: (bare JID, device id, identity key) → stored level, for every identity key
            recorded for the JIDs read; a key missing here is new or changed.
        own_devices: our own device records (stale-device detection), when they were read.
    """

    levels: dict[tuple[str, int, bytes], TrustLevel] = field(default_factory=dict)
    own_devices: tuple[DeviceRecord, ...] = ()

    def level(self, device: DeviceRef, identity_key: bytes) -> TrustLevel | None:
        """The stored level of this identity key of `device`, or None when not read/known."""
        return self.levels.get((device.bare_jid, device.device_id, identity_key))

    def remember(self, device: DeviceRef, identity_key: bytes, level: TrustLevel) -> None:
        """Note a level learned later (a new identity, recorded in a unit of work)."""
        self.levels[(device.bare_jid, device.device_id, identity_key)] = level


def read_known_trust(uow: UnitOfWork, jids: Iterable[str], own: str | None) -> KnownTrust:
    """The identity keys and trust stored for `jids` and, when `own` is given, our own device
    records."""
    known = KnownTrust()
    for jid in dict.fromkeys(jids):
        for record in uow.trust.identities(jid):
            known.levels[(record.bare_jid, record.device_id, record.identity_key)] = record.trust
    if own is not None:
        known.own_devices = tuple(uow.devices.of(own))
    return known


def _decode(text: str) -> JsonObject | None:
    value = json.loads(text)
    return value if isinstance(value, dict) else None


def apply_state_changes(uow: UnitOfWork, changes: StateChanges) -> None:
    """Write an engine operation's changes inside the caller's unit of work, in order."""
    for key, value in changes:
        if value is DELETE:
            uow.state.delete(key)
        else:
            assert isinstance(value, dict)
            uow.state.store(key, _version_of(value), _encode(value))


def state_digest(uow: UnitOfWork) -> str:
    """A hash over every OMEMO state row: equal digests mean byte-identical state."""
    digest = hashlib.sha256()
    for record in uow.state.list_prefix(""):
        digest.update(f"{record.key}\x00{record.version}\x00{record.value}\x01".encode())
    return digest.hexdigest()


@dataclass(slots=True)
class Staging:
    """The OMEMO state of the unit of work being assembled, handed explicitly by a pipeline
    (under the engine lock) to the state store the engine reads through.

    Attributes:
        changes: the changes staged so far (each operation reads the previous ones' writes);
            empty when no unit of work is being assembled.
        prefetched: committed rows read ahead, as stored JSON text (None: no row).
    """

    changes: StateChanges = field(default_factory=StateChanges)
    prefetched: dict[str, str | None] = field(default_factory=dict)

    @contextmanager
    def hold(
        self, changes: StateChanges, prefetched: Mapping[str, str | None] | None = None
    ) -> Iterator[StateChanges]:
        """Serve `changes` (and `prefetched`) to every load until the block ends, whatever
        happens in it."""
        self.changes, self.prefetched = changes, dict(prefetched or {})
        try:
            yield changes
        finally:
            self.changes, self.prefetched = StateChanges(), {}


class RunnerStateStore:
    """`tui_omemo.protocol.ports.StateStore` over `omemo_state`, run on the DB thread.

    Args:
        runner: the DB thread.
        staging: what the pipelines stage for the unit of work they assemble (shared with
            them by the composition; a store of its own when None).
    """

    def __init__(self, runner: DbRunner, staging: Staging | None = None) -> None:
        self._runner = runner
        self.staging = staging or Staging()

    async def load(self, key: str) -> JsonObject | None:
        """The value under `key`, or None (a staged, uncommitted value first, not to be
        modified, then a row read ahead)."""
        staged = self.staging.changes.writes
        if key in staged:
            value = staged[key]
            return None if value is DELETE else value
        prefetched = self.staging.prefetched
        if key in prefetched:
            text = prefetched[key]
            return None if text is None else _decode(text)
        return await self._runner.read(lambda uow: load_state(uow, key))

    async def store(self, key: str, value: JsonObject) -> None:
        """Store `value` under `key` in its own unit of work."""
        changes = StateChanges()
        changes.put(key, value)
        await self.commit(changes)

    async def delete(self, key: str) -> None:
        """Delete `key` in its own unit of work."""
        changes = StateChanges()
        changes.delete(key)
        await self.commit(changes)

    async def commit(self, changes: StateChanges) -> None:
        """Apply `changes` as one unit of work (maintenance, end of catch-up, rebuilds)."""
        if changes:
            await self._runner.write(lambda uow: apply_state_changes(uow, changes))
