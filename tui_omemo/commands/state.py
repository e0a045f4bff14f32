"""A `StateStore` (the protocol core's port) over one open unit of work of the store.

`account add` creates the identity with `Engine.create` inside the same store transaction
that saves the account row, so an interrupted `account add` leaves nothing behind. The
service's `RunnerStateStore` hops to its DB thread for every call and commits each write on
its own; here the command line already holds the unit of work, so this adapter calls the
service's encoding functions (`load_state`, `apply_state_changes`) directly inside it: the
rows are byte-for-byte what the service writes and reads.
"""

from __future__ import annotations

from tui_omemo.protocol.ports import JsonObject, StateChanges
from tui_omemo.service.state import apply_state_changes, load_state
from tui_omemo.store import UnitOfWork


class UnitOfWorkStateStore:
    """The protocol core's state, read and written inside one caller-held unit of work."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def load(self, key: str) -> JsonObject | None:
        """The value under `key`, or None."""
        return load_state(self._uow, key)

    async def store(self, key: str, value: JsonObject) -> None:
        """Store `value` under `key` (committed with the caller's unit of work)."""
        changes = StateChanges()
        changes.put(key, value)
        apply_state_changes(self._uow, changes)

    async def delete(self, key: str) -> None:
        """Forget `key` (no error when absent)."""
        changes = StateChanges()
        changes.delete(key)
        apply_state_changes(self._uow, changes)
