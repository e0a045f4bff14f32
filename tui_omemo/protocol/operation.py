"""One engine call's working state: pending `StateChanges` laid over the store.

Every engine operation reads through an `Operation` and records its writes in `changes`, which
the host commits (engine.py: no writes during encrypt/decrypt). Our prekey material is loaded at
most once per operation. Skipped message keys live under their own state keys, listed in order
per session (`session.skipped_key`, `skipped_order_key`); `keep_skipped` and `delete_skipped`
record their writes and deletions.
"""

from __future__ import annotations

from tui_omemo.model import DeviceRef, Namespace
from tui_omemo.protocol.codec import b64
from tui_omemo.protocol.errors import StateCorrupted
from tui_omemo.protocol.identity import PreKeys, pre_keys_key
from tui_omemo.protocol.ports import JsonObject, Overlay, StateChanges, StateStore
from tui_omemo.protocol.ratchet import PackingDoubleRatchet
from tui_omemo.protocol.session import (
    Session,
    new_skipped_keys,
    ratchet_json,
    session_key,
    skipped_key,
    skipped_order_key,
)
from tui_omemo.protocol.version import Version


class Operation:
    """One engine call: pending changes laid over the store, and state loaded on demand."""

    def __init__(self, store: StateStore, base: StateChanges | None = None) -> None:
        """Start with a copy of `base` (changes of the same unit of work not yet committed)."""
        self.changes = StateChanges(dict(base.writes)) if base is not None else StateChanges()
        self._view = Overlay(store, self.changes)
        self._pre_keys: dict[Namespace, PreKeys] = {}

    async def pre_keys(self, version: Version) -> PreKeys:
        """Our prekey material of `version` (loaded once per operation)."""
        if version.namespace not in self._pre_keys:
            stored = await self._view.load(pre_keys_key(version))
            if stored is None:
                raise StateCorrupted(f"no prekey state for {version.namespace.label}")
            self._pre_keys[version.namespace] = PreKeys.from_json(version, stored)
        return self._pre_keys[version.namespace]

    def save_pre_keys(self, version: Version) -> None:
        """Record the (modified) prekey material of `version`."""
        self.changes.put(pre_keys_key(version), self._pre_keys[version.namespace].to_json())

    async def load(self, key: str) -> JsonObject | None:
        """Any value, with this operation's writes applied."""
        return await self._view.load(key)

    async def session(self, namespace: Namespace, device: DeviceRef) -> Session | None:
        """The session with `device`, with this operation's writes applied."""
        stored = await self._view.load(session_key(namespace, device))
        return None if stored is None else Session.from_json(stored)

    def save_session(self, session: Session) -> None:
        """Record `session`."""
        self.changes.put(session_key(session.namespace, session.device), session.to_json())

    async def keep_skipped(
        self, session: Session, ratchet: PackingDoubleRatchet, limit: int
    ) -> Session:
        """Store the ratchet's skipped keys under their own keys, evicting the oldest beyond
        `limit`, and return the session with the ratchet (without skipped keys) updated."""
        namespace, device = session.namespace, session.device
        oldest, following = session.skipped_oldest, session.skipped_next
        for ratchet_pub, index, message_key in new_skipped_keys(ratchet):
            key = skipped_key(namespace, device, ratchet_pub, index)
            self.changes.put(key, {"version": 1, "message_key": b64(message_key)})
            self.changes.put(
                skipped_order_key(namespace, device, following), {"version": 1, "key": key}
            )
            following += 1
        while following - oldest > limit:
            await self._forget_skipped(namespace, device, oldest)
            oldest += 1
        return session.evolve(ratchet=ratchet_json(ratchet), skipped=(oldest, following))

    async def delete_skipped(self, session: Session | None) -> None:
        """Record the deletion of every skipped key a (replaced) session holds."""
        if session is None:
            return
        for sequence in range(session.skipped_oldest, session.skipped_next):
            await self._forget_skipped(session.namespace, session.device, sequence)

    async def _forget_skipped(self, namespace: Namespace, device: DeviceRef, sequence: int) -> None:
        """Delete the skipped key at `sequence` in a session's order, and its order entry."""
        order_key = skipped_order_key(namespace, device, sequence)
        entry = await self.load(order_key)
        if entry is not None and isinstance(entry.get("key"), str):
            self.changes.delete(str(entry["key"]))
        self.changes.delete(order_key)
