"""The engine's `Directory` port over the transport, with a short-lived device-list cache.

Every fetched device list is also recorded in the store's `devices` table (listed devices
active, the others inactive: contact devices are never deleted), which is what the trust screen,
stale detection and the "is this sender device listed?" check read. Lists are cached for a
few minutes so that sending does not cost a PEP round trip per message; a message from a
device id we have not seen listed refetches the list once (XEP-0384 business rules).

A device that was listed and is not any more raises a `DEVICE_REMOVED` security event (stored
with the list, handed to `on_event` once written).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from tui_omemo.events import SecurityEventKind
from tui_omemo.model import DeviceRef, Namespace, bare_jid
from tui_omemo.protocol.elements import DeviceList, WireBundle
from tui_omemo.service.api import SecurityEventRaised, ServiceEvent
from tui_omemo.service.ports import Transport
from tui_omemo.service.runner import DbRunner
from tui_omemo.service.trust import PendingEvent, record_event
from tui_omemo.store import UnitOfWork

CACHE_SECONDS = 300.0


class CachingDirectory:
    """`tui_omemo.protocol.ports.Directory` over a `Transport`.

    Args:
        transport: where lists and bundles come from.
        runner: the DB thread (fetched lists are recorded in the store).
        ttl: how long a fetched list is reused, in seconds.
    """

    def __init__(self, transport: Transport, runner: DbRunner, ttl: float = CACHE_SECONDS) -> None:
        self._transport = transport
        self._runner = runner
        self._ttl = ttl
        self._lists: dict[tuple[Namespace, str], tuple[float, DeviceList]] = {}
        self.on_event: Callable[[ServiceEvent], None] | None = None
        """Where `DEVICE_REMOVED` events go once stored (the service's event queue)."""

    async def fetch_device_list(self, namespace: Namespace, bare_jid: str) -> DeviceList:
        """The device list of `bare_jid` (cached; recorded in the store when fetched)."""
        key = (namespace, bare_jid)
        cached = self._lists.get(key)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        return await self.refresh(namespace, bare_jid)

    async def refresh(self, namespace: Namespace, jid: str) -> DeviceList:
        """Fetch a device list now and record it."""
        jid = bare_jid(jid)
        device_list = await self._transport.fetch_device_list(namespace, jid)
        self._lists[(namespace, jid)] = (time.monotonic(), device_list)
        labels = {entry.device_id: entry.label for entry in device_list.devices if entry.label}
        await self._record(namespace, jid, device_list, labels)
        return device_list

    async def notified(self, jid: str, device_list: DeviceList) -> None:
        """A PEP notification: take the pushed list as current and record it."""
        jid = bare_jid(jid)
        namespace = device_list.namespace
        self._lists[(namespace, jid)] = (time.monotonic(), device_list)
        await self._record(namespace, jid, device_list, None)

    async def _record(
        self,
        namespace: Namespace,
        jid: str,
        device_list: DeviceList,
        labels: Mapping[int, str] | None,
    ) -> None:
        """Store the list; a device that left it is a security event."""
        now = int(time.time() * 1000)

        def write(uow: UnitOfWork) -> list[PendingEvent]:
            removed = uow.devices.apply_device_list(
                namespace, jid, device_list.device_ids, now=now, labels=labels
            )
            return [
                record_event(
                    uow,
                    PendingEvent(
                        SecurityEventKind.DEVICE_REMOVED,
                        jid,
                        device_id,
                        f"device {device_id} of {jid} is no longer on its OMEMO {namespace.label} "
                        "device list",
                    ),
                    now,
                )
                for device_id in removed
            ]

        for event in await self._runner.write(write):
            if self.on_event is not None:
                self.on_event(SecurityEventRaised(event.public()))

    async def fetch_bundle(self, namespace: Namespace, bare_jid: str, device_id: int) -> WireBundle:
        """A device's bundle, uncached (raises `BundleUnavailable`)."""
        return await self._transport.fetch_bundle(namespace, bare_jid, device_id)

    async def is_listed(self, namespace: Namespace, device: DeviceRef) -> bool:
        """Whether `device` is on its owner's current list (refetched once when it is not)."""
        cached = self._lists.get((namespace, device.bare_jid))
        if cached is not None and device.device_id in cached[1].device_ids:
            return True
        return device.device_id in (await self.refresh(namespace, device.bare_jid)).device_ids

    def invalidate(self, jid: str | None = None) -> None:
        """Forget cached lists (of one JID, or all)."""
        if jid is None:
            self._lists.clear()
            return
        for key in [key for key in self._lists if key[1] == bare_jid(jid)]:
            del self._lists[key]
