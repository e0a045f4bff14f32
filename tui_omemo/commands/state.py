"""A `StateStore` (the protocol core's port) over one open unit of work of the store.

The command line creates an identity with `Engine.create` inside one store transaction: the
engine awaits `load`/`store`, and this adapter runs the synchronous repository calls directly
(the command line has no DB thread to hop to). Values are kept as JSON text with the format
version the core writes into each value (`"version"`), as `store/omemo_state.py` expects.
"""

from __future__ import annotations

import json

from tui_omemo.protocol.ports import JsonObject
from tui_omemo.store import UnitOfWork


class UnitOfWorkStateStore:
    """The protocol core's state, read and written through `uow.state`."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def load(self, key: str) -> JsonObject | None:
        """The value under `key`, or None."""
        record = self._uow.state.load(key)
        if record is None:
            return None
        value: JsonObject = json.loads(record.value)
        return value

    async def store(self, key: str, value: JsonObject) -> None:
        """Store `value` under `key`, with the format version it carries."""
        version = value.get("version")
        number = version if isinstance(version, int) and not isinstance(version, bool) else 0
        self._uow.state.store(key, number, json.dumps(value, separators=(",", ":")))

    async def delete(self, key: str) -> None:
        """Forget `key` (no error when absent)."""
        self._uow.state.delete(key)
