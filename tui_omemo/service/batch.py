"""One unit of work being assembled by the inbound pipeline (`service/inbound.py`).

Each stanza of a batch adds a step (what it writes inside the transaction) and, when it was
decrypted, its OMEMO state changes, merged in order into the batch's (what the next
decryption reads through `state.Staging`). The batch commits every step and the merged state
in ONE unit of work; its decryptions then become follow-ups, one per sender device.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from tui_omemo.model import DeviceRef, Namespace
from tui_omemo.protocol.engine import DecryptResult
from tui_omemo.protocol.ports import StateChanges
from tui_omemo.service import crashpoints
from tui_omemo.service.state import apply_state_changes
from tui_omemo.service.trust import PendingEvent, record_event
from tui_omemo.store import ArchivedMessage, UnitOfWork


@dataclass(frozen=True, slots=True)
class Committed:
    """What one stanza's part of a unit of work produced: its archive row (read inside the
    transaction) and the security events recorded with it, emitted after the commit."""

    row: ArchivedMessage | None = None
    events: tuple[PendingEvent, ...] = ()


Step = Callable[[UnitOfWork], Committed]


@dataclass(slots=True)
class Batch:
    """One unit of work being assembled for several inbox rows (the engine lock is held).

    Attributes:
        steps: per stanza, what it writes inside the transaction, in arrival order.
        keys: the dedupe keys of the rows staged so far (a second copy is dropped).
        decrypted: the staged decryptions (their follow-ups run after the commit).
        repairs: devices whose message failed to decrypt (the optional repair, after it).
        state: the OMEMO state changes of every staged decryption, merged in order (what
            the next decryption reads through `Staging`); written once.
        tolerant: the follow-ups tolerate network and protocol errors (room batches).
    """

    steps: list[Step] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    decrypted: list[DecryptResult] = field(default_factory=list)
    repairs: list[tuple[DeviceRef, Namespace]] = field(default_factory=list)
    state: StateChanges = field(default_factory=StateChanges)
    tolerant: bool = False

    def knows(self, keys: Iterable[str]) -> bool:
        """Whether a row staged in this batch already carries one of `keys`."""
        return any(key in self.keys for key in keys)

    def add(self, step: Step, keys: Iterable[str] = ()) -> None:
        """Stage one stanza's writes (and the dedupe keys of the row it archives)."""
        self.steps.append(step)
        self.keys.update(keys)

    def drop(self, inbox_id: int) -> None:
        """Stage the silent deletion of an inbox row (a duplicate, our own echo …)."""

        def step(uow: UnitOfWork) -> Committed:
            uow.inbox.delete(inbox_id)
            return Committed()

        self.add(step)

    def note(self, inbox_id: int, event: PendingEvent, now: int) -> None:
        """Stage an inbox deletion with a security event and no archive row."""

        def step(uow: UnitOfWork) -> Committed:
            uow.inbox.delete(inbox_id)
            return Committed(None, (record_event(uow, event, now),))

        self.add(step)

    def commit(self, uow: UnitOfWork) -> list[Committed]:
        """Run every step inside `uow` (on the DB thread), in order, and write the merged
        state (a session advanced by several messages is written once)."""
        outcomes = [step(uow) for step in self.steps]
        apply_state_changes(uow, self.state)
        crashpoints.crash_point(crashpoints.BEFORE_COMMIT)
        return outcomes


def follow_ups(results: Iterable[DecryptResult]) -> list[DecryptResult]:
    """The decryptions of one batch as follow-up work: one per sender device (its flags
    OR-ed over the batch, so one empty message answers several), with the bundle of a
    namespace republished once."""
    merged: dict[tuple[Namespace, DeviceRef], DecryptResult] = {}
    for result in results:
        earlier = merged.get((result.namespace, result.sender))
        merged[(result.namespace, result.sender)] = (
            result
            if earlier is None
            else replace(
                result,
                key_exchange=earlier.key_exchange or result.key_exchange,
                pre_key_consumed=earlier.pre_key_consumed or result.pre_key_consumed,
                send_empty_message=earlier.send_empty_message or result.send_empty_message,
                heartbeat_due=earlier.heartbeat_due or result.heartbeat_due,
            )
        )
    published: set[Namespace] = set()
    follow_ups = []
    for result in merged.values():
        republish = result.pre_key_consumed and result.namespace not in published
        if republish:
            published.add(result.namespace)
        follow_ups.append(replace(result, pre_key_consumed=republish))
    return follow_ups
