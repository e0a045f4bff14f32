"""What the protocol core needs from its host, and how it hands back state changes.

The engine talks to the outside through two small ports:

* `StateStore`: versioned JSON values (each has `"version"`) under string keys: `"identity"`,
  `"x3dh/<0.3|2>"`, `"session/<0.3|2>/<bare_jid>/<device_id>"`, and per skipped message key
  `"skipped/…"` plus its FIFO entry `"skipped-order/…"` (see `session.py`). The SQLCipher store
  implements it in `store/`, `devtools/fakes.py` in memory.
* `Directory`: the published OMEMO data of other devices (bundles, device lists), fetched by
  `xmpp/` from PEP.

The engine never writes during `encrypt`/`decrypt`: it returns a `StateChanges` value (ordered
writes and deletions) that the host commits in the same unit of work as the rest of the message
(DESIGN.md §3.1). `apply_changes` commits one through a `StateStore` for hosts that need no
transaction. The engine keeps no cache of mutable state, so an uncommitted or aborted change is
never served back.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias

from tui_omemo.model import Namespace
from tui_omemo.protocol.elements import DeviceList, WireBundle

JsonValue: TypeAlias = dict[str, "JsonValue"] | list["JsonValue"] | str | int | float | bool | None
JsonObject: TypeAlias = dict[str, JsonValue]


class _Delete(enum.Enum):
    DELETE = "delete"


DELETE = _Delete.DELETE
"""The marker for "delete this key" inside `StateChanges`."""

Write: TypeAlias = JsonObject | _Delete


class StateStore(Protocol):
    """Persistent storage of the core's state: JSON objects under string keys."""

    async def load(self, key: str) -> JsonObject | None:
        """The value stored under `key`, or None."""
        ...

    async def store(self, key: str, value: JsonObject) -> None:
        """Store (replace) the value under `key`."""
        ...

    async def delete(self, key: str) -> None:
        """Delete `key`; deleting a missing key is not an error."""
        ...


class Directory(Protocol):
    """Read access to what other devices published (PEP in production)."""

    async def fetch_bundle(self, namespace: Namespace, bare_jid: str, device_id: int) -> WireBundle:
        """The bundle of one device.

        Raises:
            BundleUnavailable: no bundle published, or fetching it failed.
        """
        ...

    async def fetch_device_list(self, namespace: Namespace, bare_jid: str) -> DeviceList:
        """The current device list of `bare_jid` (an empty list when none is published)."""
        ...


@dataclass(slots=True)
class StateChanges:
    """Ordered state writes produced by one engine operation, to be committed as one unit.

    Later writes to the same key replace earlier ones; the order of first appearance is kept.
    """

    writes: dict[str, Write] = field(default_factory=dict)

    def put(self, key: str, value: JsonObject) -> None:
        """Record a write of `value` under `key`."""
        self.writes[key] = value

    def delete(self, key: str) -> None:
        """Record the deletion of `key`."""
        self.writes[key] = DELETE

    def merge(self, other: StateChanges) -> None:
        """Append `other`'s writes after ours (its values win)."""
        self.writes.update(other.writes)

    def __iter__(self) -> Iterator[tuple[str, Write]]:
        return iter(self.writes.items())

    def __len__(self) -> int:
        return len(self.writes)

    def __bool__(self) -> bool:
        return bool(self.writes)


class Overlay:
    """A read view of a `StateStore` with uncommitted `StateChanges` laid over it.

    Used inside one engine operation so that later steps see earlier steps' writes without
    anything being persisted.
    """

    def __init__(self, store: StateStore, changes: StateChanges) -> None:
        self._store = store
        self._changes = changes

    async def load(self, key: str) -> JsonObject | None:
        """The pending value of `key` if one was written, else the stored one."""
        if key in self._changes.writes:
            value = self._changes.writes[key]
            return None if value is DELETE else value
        return await self._store.load(key)


async def apply_changes(store: StateStore, changes: StateChanges | Mapping[str, Write]) -> None:
    """Commit `changes` through `store`, in order (no transaction: for simple hosts and tests)."""
    items = changes.writes if isinstance(changes, StateChanges) else changes
    for key, value in items.items():
        if value is DELETE:
            await store.delete(key)
        else:
            assert not isinstance(value, _Delete)
            await store.store(key, value)
