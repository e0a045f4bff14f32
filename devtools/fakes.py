"""In-memory implementations of the protocol core's ports, and a host for one engine on them.

`MemoryStateStore` implements `tui_omemo.protocol.ports.StateStore`: a dict of JSON objects that
copies on the way in and out (like a database would), so nothing a test or the engine holds
aliases stored state; it refuses values a JSON store could not give back unchanged, and
`digest()` hashes the whole store to check "nothing changed".
`MemoryDirectory` implements `tui_omemo.protocol.ports.Directory`: published bundles and device
lists per (namespace, bare JID).
`FakeDevice` is a minimal host: an engine with its own store on a shared directory that commits
every result (the service does the same inside its SQLCipher transaction).

The python-omemo peers of the interop tests live in `devtools/peers.py`; the benchmark
(`benchmarks/protocol.py`) runs both sides on these stores.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from tui_omemo.model import DeviceRef, Namespace, TrustLevel
from tui_omemo.protocol.elements import DeviceList, DeviceListEntry, EncryptedElement, WireBundle
from tui_omemo.protocol.engine import DecryptResult, EncryptResult, Engine, TrustDecider
from tui_omemo.protocol.errors import BundleUnavailable
from tui_omemo.protocol.ports import JsonObject, StateChanges, apply_changes
from tui_omemo.protocol.settings import CoreSettings

_SCALARS = frozenset({str, int, float, bool, type(None)})


def json_copy(value: Any) -> Any:
    """A deep copy of a JSON value (dicts with string keys, lists, str, int, float, bool, None).

    Raises:
        TypeError: for anything else (bytes, tuples, other keys): a JSON store would not give it
            back unchanged.
    """
    kind = type(value)
    if kind is dict:
        copied = {}
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(f"JSON object key {key!r} is not a string")
            copied[key] = item if type(item) in _SCALARS else json_copy(item)
        return copied
    if kind is list:
        return [item if type(item) in _SCALARS else json_copy(item) for item in value]
    if kind in _SCALARS:
        return value
    raise TypeError(f"{kind.__name__} is not a JSON value")


class MemoryStateStore:
    """A dict of JSON objects behind the `StateStore` port."""

    def __init__(self, data: Mapping[str, JsonObject] | None = None) -> None:
        self.data: dict[str, JsonObject] = {
            key: json_copy(value) for key, value in (data or {}).items()
        }
        self.loads = 0
        self.writes = 0

    async def load(self, key: str) -> JsonObject | None:
        self.loads += 1
        value = self.data.get(key)
        return None if value is None else json_copy(value)

    async def store(self, key: str, value: JsonObject) -> None:
        self.writes += 1
        self.data[key] = json_copy(value)

    async def delete(self, key: str) -> None:
        self.writes += 1
        self.data.pop(key, None)

    async def commit(self, changes: StateChanges) -> None:
        """Apply `changes` (what a host's transaction would do)."""
        await apply_changes(self, changes)

    def digest(self) -> str:
        """A hash of the whole store: equal digests mean byte-identical state."""
        encoded = json.dumps(self.data, sort_keys=True).encode()
        return hashlib.sha256(encoded).hexdigest()


class MemoryDirectory:
    """Published bundles and device lists, shared by every device in a test."""

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

    def publish(self, bare_jid: str, device_id: int, bundle: WireBundle) -> None:
        """Publish (replace) a device's bundle and announce the device in its namespace."""
        self.publish_bundle(bare_jid, device_id, bundle)
        self.announce(bundle.namespace, bare_jid, device_id)

    def publish_bundle(self, bare_jid: str, device_id: int, bundle: WireBundle) -> None:
        """Publish (replace) one device's bundle, device list untouched."""
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


def trust_everyone(device: DeviceRef, identity_key: bytes) -> TrustLevel:
    """A `TrustDecider` that lets every device receive keys."""
    del device, identity_key
    return TrustLevel.VERIFIED


def as_received(element: EncryptedElement) -> EncryptedElement:
    """The element as the receiver parses it from XML: 0.3 keys carry no JID."""
    if element.namespace is Namespace.V2:
        return element
    keys = tuple(dataclasses.replace(key, bare_jid=None) for key in element.keys)
    return dataclasses.replace(element, keys=keys)


class FakeDevice:
    """One engine with its own store on a shared directory, committing like a simple host."""

    def __init__(self, engine: Engine, store: MemoryStateStore, directory: MemoryDirectory) -> None:
        self.engine = engine
        self.store = store
        self.directory = directory

    @classmethod
    async def create(
        cls,
        bare_jid: str,
        directory: MemoryDirectory,
        store: MemoryStateStore | None = None,
        settings: CoreSettings | None = None,
        *,
        publish: bool = True,
    ) -> FakeDevice:
        """Load the engine in `store` (or create a new device, its id avoiding those on the
        JID's device lists) and, unless `publish` is False, announce it and publish its bundles
        in both namespaces."""
        store = store if store is not None else MemoryStateStore()
        engine = await Engine.create(bare_jid, store, directory, settings)
        device = cls(engine, store, directory)
        if publish:
            await device.publish()
        return device

    @property
    def bare_jid(self) -> str:
        return self.engine.own_bare_jid

    @property
    def ref(self) -> DeviceRef:
        return self.engine.own_device

    async def publish(self) -> None:
        """(Re)publish both bundles and announce this device on both device lists."""
        for namespace in Namespace:
            bundle = await self.engine.bundle(namespace)
            self.directory.publish(self.bare_jid, self.engine.device_id, bundle)

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

    async def send_as_received(
        self, namespace: Namespace, recipients: Iterable[str | DeviceRef], plaintext: bytes | None
    ) -> EncryptedElement:
        """Encrypt for every device (`trust_everyone`), commit, and return the element as the
        receivers will parse it."""
        return as_received((await self.send(namespace, recipients, plaintext)).element)

    async def receive(self, element: EncryptedElement, sender_bare_jid: str) -> DecryptResult:
        """Decrypt and commit (republishing the bundles when a prekey was used)."""
        result = await self.engine.decrypt(element, sender_bare_jid)
        await self.store.commit(result.changes)
        if result.pre_key_consumed:
            await self.publish()
        return result
