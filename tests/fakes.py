"""In-memory implementations of the ports (same Protocols as the real classes).

`MemoryStateStore` implements `tui_omemo.protocol.ports.StateStore`; it deep-copies on the way in
and out (like a database would), so nothing a test or the engine holds aliases stored state, and
`digest()` hashes the whole store to check "nothing changed".
`MemoryDirectory` implements `tui_omemo.protocol.ports.Directory`: published bundles and device
lists per (namespace, bare JID).
`FakeDevice` is a minimal host: an engine with its own store on a shared directory that commits
every result (the service does the same inside its SQLCipher transaction).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable

from tui_omemo.model import DeviceRef, Namespace, TrustLevel
from tui_omemo.protocol.elements import DeviceList, DeviceListEntry, EncryptedElement, WireBundle
from tui_omemo.protocol.engine import DecryptResult, EncryptResult, Engine, TrustDecider
from tui_omemo.protocol.errors import BundleUnavailable
from tui_omemo.protocol.ports import JsonObject, StateChanges, apply_changes
from tui_omemo.protocol.settings import CoreSettings


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


def trust_everyone(device: object, identity_key: bytes) -> TrustLevel:
    """A `TrustDecider` that lets every device receive keys."""
    return TrustLevel.VERIFIED


class FakeDevice:
    """One engine with its own store on a shared directory, committing like a simple host."""

    def __init__(self, engine: Engine, store: MemoryStateStore, directory: MemoryDirectory) -> None:
        self.engine = engine
        self.store = store
        self.directory = directory

    @classmethod
    async def create(
        cls, directory: MemoryDirectory, bare_jid: str, settings: CoreSettings | None = None
    ) -> FakeDevice:
        """A new device, announced and with its bundles published in both namespaces."""
        store = MemoryStateStore()
        engine = await Engine.create(bare_jid, store, directory, settings)
        device = cls(engine, store, directory)
        for namespace in Namespace:
            directory.announce(namespace, bare_jid, engine.device_id)
        await device.publish()
        return device

    @property
    def jid(self) -> str:
        return self.engine.own_bare_jid

    @property
    def ref(self) -> DeviceRef:
        return self.engine.own_device

    async def publish(self) -> None:
        """(Re)publish both bundles."""
        for namespace in Namespace:
            bundle = await self.engine.bundle(namespace)
            self.directory.publish_bundle(self.jid, self.engine.device_id, bundle)

    async def send(
        self,
        namespace: Namespace,
        recipients: Iterable[str | DeviceRef],
        plaintext: bytes | None,
        trust: TrustDecider = trust_everyone,
    ) -> EncryptResult:
        """Encrypt and commit."""
        result = await self.engine.encrypt(namespace, recipients, plaintext, trust)
        await self.store.commit(result.changes)
        return result

    async def receive(self, element: EncryptedElement, sender_bare_jid: str) -> DecryptResult:
        """Decrypt and commit (republishing the bundle when a prekey was used)."""
        result = await self.engine.decrypt(element, sender_bare_jid)
        await self.store.commit(result.changes)
        if result.pre_key_consumed:
            await self.publish()
        return result
