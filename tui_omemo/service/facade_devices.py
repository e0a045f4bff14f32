"""The devices and trust part of `OmemoChatService`: device lists, our own devices, trust
decisions and trust URIs (`app_service.py` composes it with the other parts)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from tui_omemo.events import SecurityEventKind
from tui_omemo.model import DeviceRef, Namespace, TrustLevel, bare_jid
from tui_omemo.protocol.device_list import merge_device_list
from tui_omemo.protocol.trust import TrustMode
from tui_omemo.protocol.verification import (
    InvalidTrustUri,
    build_trust_uri,
    format_fingerprint,
    parse_trust_uri,
)
from tui_omemo.service.api import DeviceInfo, SecurityEventRaised, UriFingerprint, UriPreview
from tui_omemo.service.devices import ThisDevice, device_infos, latest_identities
from tui_omemo.service.facade_base import FacadeParts
from tui_omemo.service.ports import TransportError
from tui_omemo.service.session import now_ms
from tui_omemo.service.trust import PendingEvent, record_event
from tui_omemo.store import IdentityRecord, UnitOfWork


class DevicesFacade(FacadeParts):
    """Devices and trust: device lists, own devices, trust decisions, trust URIs."""

    async def devices(self, bare_jid_: str | None = None) -> Sequence[DeviceInfo]:
        """Devices of one contact, or ours followed by every contact's."""
        if bare_jid_ is not None:
            return await self._runner.read(lambda uow: self._devices_of(uow, bare_jid(bare_jid_)))

        def read(uow: UnitOfWork) -> list[DeviceInfo]:
            result = self._devices_of(uow, self.own_jid)
            for item in uow.roster.all():
                result.extend(self._devices_of(uow, item.bare_jid))
            return result

        return await self._runner.read(read)

    def _devices_of(self, uow: UnitOfWork, jid: str) -> list[DeviceInfo]:
        return device_infos(uow, jid, self._this_device)

    @property
    def _this_device(self) -> ThisDevice:
        return ThisDevice(self.own_jid, self._engine.device_id, self._engine.identity_key)

    async def stale_own_devices(self) -> Sequence[DeviceInfo]:
        """Our other devices silent for longer than `delete_stale_after_hours`: the preview
        shown before `remove_own_devices` (DESIGN.md §4, delete_stale_devices)."""
        limit = self._settings.delete_stale_after_hours * 3600 * 1000
        now = now_ms()
        await self.refresh_device_list(self.own_jid)

        def read(uow: UnitOfWork) -> list[DeviceInfo]:
            silent = set()
            for record in uow.devices.of(self.own_jid):
                last = record.last_message or record.first_seen
                if record.active and now - last > limit:
                    silent.add(record.device_id)
            silent.discard(self._engine.device_id)
            return [d for d in self._devices_of(uow, self.own_jid) if d.device_id in silent]

        return await self._runner.read(read)

    async def remove_own_devices(self, device_ids: Collection[int]) -> None:
        """Remove our other devices from both of our published device lists (never this one).

        Raises:
            TransportError: the lists could not be fetched or published.
        """
        drop = set(device_ids) - {self._engine.device_id}
        if not drop:
            return
        for namespace in Namespace:
            server = await self._transport.fetch_device_list(namespace, self.own_jid)
            own = await self.session.own_entry(namespace, server)
            merged = merge_device_list(namespace, server, [own], drop=drop)
            if merged is not None:
                await self._transport.publish_device_list(merged)
            await self._directory.refresh(namespace, self.own_jid)

    async def set_trust(self, bare_jid_: str, device_id: int, level: TrustLevel) -> None:
        """Record a manual trust decision for the device's current identity key.

        Raises:
            KeyError: the device's identity key is not known yet (refresh its device list).
        """
        jid = bare_jid(bare_jid_)
        identity = await self._identity(jid, device_id)
        now = now_ms()
        detail = f"device {device_id} of {jid} is now {level.value.replace('_', ' ')}"
        event = PendingEvent(SecurityEventKind.TRUST_CHANGED, jid, device_id, detail)

        def write(uow: UnitOfWork) -> PendingEvent:
            uow.trust.set_trust(jid, device_id, identity.identity_key, level, now=now, actor="user")
            return record_event(uow, event, now)

        recorded = await self._runner.write(write)
        self._events.put_nowait(SecurityEventRaised(recorded.public()))
        await self._roster_changed(jid)

    async def _identity(self, jid: str, device_id: int) -> IdentityRecord:
        records = await self._runner.read(lambda uow: uow.trust.identities(jid))
        latest = {record.device_id: record for record in latest_identities(records)}
        if device_id not in latest:
            await self.refresh_device_list(jid)
            records = await self._runner.read(lambda uow: uow.trust.identities(jid))
            latest = {record.device_id: record for record in latest_identities(records)}
        if device_id not in latest:
            raise KeyError(f"the identity key of device {device_id} of {jid} is not known")
        return latest[device_id]

    async def rebuild_session(self, bare_jid_: str, device_id: int) -> None:
        """Build fresh sessions with one device and send it an empty message."""
        await self.session.rebuild_session(DeviceRef(bare_jid(bare_jid_), device_id))

    async def own_trust_uri(self) -> str:
        """Our `xmpp:` URI: this device plus our verified other devices."""
        entries = [(self._engine.device_id, self._engine.identity_key.hex())]
        records = await self._runner.read(lambda uow: uow.trust.identities(self.own_jid))
        for record in latest_identities(records):
            if record.trust is TrustLevel.VERIFIED and record.device_id != entries[0][0]:
                entries.append((record.device_id, record.identity_key.hex()))
        return build_trust_uri(self.own_jid, entries)

    async def preview_trust_uri(self, uri: str) -> UriPreview:
        """What verifying a pasted URI would change (raises ValueError)."""
        try:
            parsed = parse_trust_uri(uri)
        except InvalidTrustUri as error:
            raise ValueError(str(error)) from error
        records = await self._runner.read(lambda uow: uow.trust.identities(parsed.bare_jid))
        by_key = {record.identity_key.hex(): record for record in records}
        fingerprints = tuple(
            UriFingerprint(
                device_id,
                format_fingerprint(hex64),
                hex64 in by_key,
                by_key[hex64].trust if hex64 in by_key else None,
            )
            for device_id, hex64 in parsed.fingerprints.items()
        )
        return UriPreview(parsed.bare_jid, fingerprints)

    async def apply_trust_uri(self, uri: str) -> int:
        """Verify every known device whose fingerprint is in the URI; returns how many."""
        preview = await self.preview_trust_uri(uri)
        records = await self._runner.read(lambda uow: uow.trust.identities(preview.bare_jid))
        wanted = {entry.fingerprint.replace(" ", "") for entry in preview.fingerprints}
        matches = [record for record in records if record.identity_key.hex() in wanted]
        changes = [record for record in matches if record.trust is not TrustLevel.VERIFIED]
        now = now_ms()
        jid = preview.bare_jid
        events = [
            PendingEvent(
                SecurityEventKind.TRUST_CHANGED,
                jid,
                record.device_id,
                f"device {record.device_id} of {jid} is now verified",
            )
            for record in changes
        ]

        def write(uow: UnitOfWork) -> list[PendingEvent]:
            for record in changes:
                uow.trust.set_trust(
                    record.bare_jid,
                    record.device_id,
                    record.identity_key,
                    TrustLevel.VERIFIED,
                    now=now,
                    actor="uri",
                )
            return [record_event(uow, event, now) for event in events]

        for recorded in await self._runner.write(write):  # as the trust manager's decisions
            self._events.put_nowait(SecurityEventRaised(recorded.public()))
        if changes:
            await self._roster_changed(jid)  # the chat's badge and the roster's show it
        return len(changes)

    async def refresh_device_list(self, bare_jid_: str) -> None:
        """Fetch both device lists again and learn each listed device's identity key (BTBV
        applies to devices seen for the first time)."""
        jid = bare_jid(bare_jid_)
        mode = TrustMode(self._settings.trust_mode)
        failures: list[TransportError] = []
        for namespace in Namespace:  # one list may be readable while the other is not
            try:
                device_list = await self._directory.refresh(namespace, jid)
            except TransportError as error:
                failures.append(error)
                continue
            for device_id in sorted(device_list.device_ids):
                if jid == self.own_jid and device_id == self._engine.device_id:
                    continue
                await self.session.learn_identity(namespace, DeviceRef(jid, device_id), mode)
        if len(failures) == len(Namespace):
            raise failures[0]
