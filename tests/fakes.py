"""In-memory implementations of the ports (same Protocols as the real classes).

`MemoryStateStore` implements `tui_omemo.protocol.ports.StateStore`; it deep-copies on the way in
and out (like a database would), so nothing a test or the engine holds aliases stored state, and
`digest()` hashes the whole store to check "nothing changed".
`MemoryDirectory` implements `tui_omemo.protocol.ports.Directory`: published bundles and device
lists per (namespace, bare JID).
"""

from __future__ import annotations

import copy
import hashlib
import json

from tui_omemo.model import Namespace
from tui_omemo.protocol.elements import DeviceList, DeviceListEntry, WireBundle
from tui_omemo.protocol.errors import BundleUnavailable
from tui_omemo.protocol.ports import JsonObject, StateChanges, apply_changes


class MemoryStateStore:
    """A dict of JSON objects behind the `StateStore` port."""

    def __init__(self) -> None:
        self.values: dict[str, JsonObject] = {}
        self.loads = 0
        self.writes = 0

    async def load(self, key: str) -> JsonObject | None:
        self.loads += 1
        value = self.values.get(key)
        return None if value is None else copy.deepcopy(value)

    async def store(self, key: str, value: JsonObject) -> None:
        self.writes += 1
        json.dumps(value)  # must be JSON-serializable, as in a real store
        self.values[key] = copy.deepcopy(value)

    async def delete(self, key: str) -> None:
        self.writes += 1
        self.values.pop(key, None)

    async def commit(self, changes: StateChanges) -> None:
        """Apply `changes` (what a host's transaction would do)."""
        await apply_changes(self, changes)

    def digest(self) -> str:
        """A hash of the whole store: equal digests mean byte-identical state."""
        encoded = json.dumps(self.values, sort_keys=True).encode()
        return hashlib.sha256(encoded).hexdigest()


class MemoryDirectory:
    """Published bundles and device lists, shared by every fake account in a test."""

    def __init__(self) -> None:
        self.bundles: dict[tuple[Namespace, str, int], WireBundle] = {}
        self.device_lists: dict[tuple[Namespace, str], list[int]] = {}
        self.bundle_fetches = 0

    async def fetch_bundle(self, namespace: Namespace, bare_jid: str, device_id: int) -> WireBundle:
        self.bundle_fetches += 1
        try:
            return self.bundles[(namespace, bare_jid, device_id)]
        except KeyError:
            raise BundleUnavailable(f"no bundle for {bare_jid}/{device_id}") from None

    async def fetch_device_list(self, namespace: Namespace, bare_jid: str) -> DeviceList:
        ids = self.device_lists.get((namespace, bare_jid), [])
        return DeviceList(namespace, tuple(DeviceListEntry(i) for i in ids))

    def publish_bundle(self, bare_jid: str, device_id: int, bundle: WireBundle) -> None:
        """Publish (replace) one device's bundle."""
        self.bundles[(bundle.namespace, bare_jid, device_id)] = bundle

    def announce(self, namespace: Namespace, bare_jid: str, device_id: int) -> None:
        """Add a device id to a device list."""
        ids = self.device_lists.setdefault((namespace, bare_jid), [])
        if device_id not in ids:
            ids.append(device_id)

    def retract(self, namespace: Namespace, bare_jid: str, device_id: int) -> None:
        """Remove a device id from a device list."""
        ids = self.device_lists.get((namespace, bare_jid), [])
        if device_id in ids:
            ids.remove(device_id)
