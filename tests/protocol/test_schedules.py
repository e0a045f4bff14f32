"""Random delivery schedules between three of our devices never desynchronise sessions and never
decrypt a message twice.

Alice, Bob and Bob's second device first open and confirm sessions with each other (one at a
time, so no two key exchanges cross). Hypothesis then draws a schedule of sends, deliveries,
duplicate deliveries and drops, in any order. Every delivery must give the sent plaintext the
first time and a typed refusal (with no state change) afterwards. At the end every device sends
once more in order, and all messages still in flight are delivered: all must decrypt.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes import FakeDevice, MemoryDirectory, MemoryStateStore
from tui_omemo.model import Namespace
from tui_omemo.protocol.elements import EncryptedElement
from tui_omemo.protocol.errors import AuthenticationFailed, Duplicate
from tui_omemo.protocol.ports import JsonObject

ALICE, BOB = "alice@example.org", "bob@example.org"
JIDS = (ALICE, BOB, BOB)
TARGET = (BOB, ALICE, ALICE)  # whom each device writes to (Bob's devices also reach each other)

_templates: list[dict[str, JsonObject]] = []


async def templates() -> list[dict[str, JsonObject]]:
    """Three engines created once; each example restores them from copies of their stores."""
    if not _templates:
        for jid in JIDS:
            device = await FakeDevice.create(jid, MemoryDirectory(), publish=False)
            _templates.append(device.store.data)
    return _templates


@dataclasses.dataclass
class Flight:
    element: EncryptedElement
    sender: int
    recipient: int
    message_id: int


class World:
    """Three devices on one directory, the messages in flight and what was delivered."""

    def __init__(self, namespace: Namespace, devices: list[FakeDevice]) -> None:
        self.namespace = namespace
        self.devices = devices
        self.in_flight: list[Flight] = []
        self.delivered: set[tuple[int, int]] = set()
        self.next_id = 0

    @classmethod
    async def create(
        cls, namespace: Namespace, stores: Sequence[Mapping[str, JsonObject]]
    ) -> World:
        directory = MemoryDirectory()
        devices = [
            await FakeDevice.create(jid, directory, MemoryStateStore(data))
            for jid, data in zip(JIDS, stores, strict=True)
        ]
        return cls(namespace, devices)

    def index_of(self, device_id: int) -> int:
        return next(i for i, d in enumerate(self.devices) if d.engine.device_id == device_id)

    async def send(self, sender: int) -> list[Flight]:
        message_id, self.next_id = self.next_id, self.next_id + 1
        device = self.devices[sender]
        element = await device.send_as_received(
            self.namespace, [TARGET[sender]], b"m%d" % message_id
        )
        flights = [
            Flight(element, sender, self.index_of(key.device_id), message_id)
            for key in element.keys
        ]
        assert sorted(f.recipient for f in flights) == [i for i in range(3) if i != sender]
        self.in_flight += flights
        return flights

    async def deliver(self, flight: Flight) -> None:
        """Deliver one copy: the first time it decrypts, later it is refused with no change."""
        device = self.devices[flight.recipient]
        sender_jid = JIDS[flight.sender]
        if (flight.message_id, flight.recipient) in self.delivered:
            before = device.store.digest()
            try:
                await device.engine.decrypt(flight.element, sender_jid)
            except (Duplicate, AuthenticationFailed):
                pass
            else:
                raise AssertionError(f"message {flight.message_id} decrypted twice")
            assert device.store.digest() == before
            return
        result = await device.receive(flight.element, sender_jid)
        assert result.plaintext == b"m%d" % flight.message_id
        assert result.sender.device_id == self.devices[flight.sender].engine.device_id
        self.delivered.add((flight.message_id, flight.recipient))

    async def open_sessions(self) -> None:
        """Alice → Bob's devices, then each Bob device answers: every session confirmed."""
        for sender in range(3):
            for flight in await self.send(sender):
                if flight.recipient > sender:
                    await self.deliver(flight)
        for flight in list(self.in_flight):
            if (flight.message_id, flight.recipient) not in self.delivered:
                await self.deliver(flight)
        self.in_flight.clear()


OPS = st.lists(
    st.tuples(
        st.sampled_from(["send", "deliver", "duplicate", "drop"]),
        st.integers(0, 2),
        st.integers(0, 10_000),
    ),
    max_size=30,
)


async def run_schedule(namespace: Namespace, schedule: list[tuple[str, int, int]]) -> None:
    world = await World.create(namespace, await templates())
    await world.open_sessions()
    dropped: list[Flight] = []
    for op, sender, pick in schedule:
        if op == "send":
            await world.send(sender)
            continue
        if not world.in_flight:
            continue
        index = pick % len(world.in_flight)
        if op == "deliver":
            await world.deliver(world.in_flight.pop(index))
        elif op == "duplicate":
            await world.deliver(world.in_flight[index])
        else:
            dropped.append(world.in_flight.pop(index))
    # no desynchronisation: fresh messages go through in order ...
    for sender in range(3):
        for flight in await world.send(sender):
            await world.deliver(flight)
            world.in_flight.remove(flight)
    # ... and whatever is still in flight decrypts once, late and out of order
    for flight in reversed(world.in_flight):
        await world.deliver(flight)
        await world.deliver(flight)
    # dropped messages that turn up after all (MAM) decrypt too, exactly once
    for flight in dropped:
        await world.deliver(flight)
        await world.deliver(flight)


SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=False,
)


@SETTINGS
@given(OPS)
async def test_random_schedules_legacy(schedule: list[tuple[str, int, int]]) -> None:
    await run_schedule(Namespace.LEGACY, schedule)


@SETTINGS
@given(OPS)
async def test_random_schedules_omemo2(schedule: list[tuple[str, int, int]]) -> None:
    await run_schedule(Namespace.V2, schedule)
