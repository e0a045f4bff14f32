"""1:1 sends that wait for the engine lock together go as one group: one read trip (sessions
and stored trust), each message encrypted on the state the one before staged, ONE unit of work
for all of them, then the stanzas in order. Each caller still gets its own report or failure."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from tests.service.conftest import TIMEOUT, PeerFactory, ServicePeer, ServicePeerFactory
from tui_omemo.events import SecurityEventKind
from tui_omemo.model import Namespace, TrustLevel
from tui_omemo.protocol.elements import DeviceList
from tui_omemo.service.api import SecurityEventRaised, SendFailed, SendReport
from tui_omemo.service.session import SEND_GROUP
from tui_omemo.store import Direction, UnitOfWork

Trips = list[str]


def count_trips(peer: ServicePeer, tasks: set[asyncio.Task[Any]], trips: Trips) -> None:
    """Append to `trips` the name of each function `tasks` run on the peer's DB thread from
    now on."""
    runner: Any = peer.service.runner
    original: Callable[..., Any] = runner.run

    async def counted(fn: Any, *args: object) -> Any:
        if asyncio.current_task() in tasks:
            trips.append(getattr(fn, "__name__", repr(fn)))
        return await original(fn, *args)

    runner.run = counted


async def all_waiting(alice: ServicePeer, count: int) -> None:
    """Until `count` sends wait for Alice's next send group."""
    session: Any = alice.service.session
    async with asyncio.timeout(TIMEOUT):
        while len(session.outbound._waiting) < count:  # noqa: ASYNC110 (no event for this)
            await asyncio.sleep(0.01)


async def grouped(
    alice: ServicePeer, sends: Sequence[tuple[str, str]], trips: Trips | None = None
) -> list[SendReport | BaseException]:
    """Start every send while Alice's engine lock is held, wait until all of them wait for
    it, then let them go; each one's report (or failure)."""
    session: Any = alice.service.session
    tasks: set[asyncio.Task[Any]] = set()
    async with session.lock:
        ordered = [asyncio.create_task(alice.service.send(jid, text)) for jid, text in sends]
        await all_waiting(alice, len(ordered))
        tasks.update(ordered)
        if trips is not None:
            count_trips(alice, tasks, trips)
    return list(await asyncio.gather(*ordered, return_exceptions=True))


async def archived(peer: ServicePeer, jid: str, direction: Direction) -> list[str]:
    """The archived texts of one direction of a chat, in archive order."""

    def read(uow: UnitOfWork) -> list[str]:
        rows = sorted(uow.archive.page(jid, None, 1000).messages, key=lambda row: row.id)
        return [row.body for row in rows if row.direction is direction]

    return await peer.service.runner.read(read)


async def received(peer: ServicePeer, count: int) -> list[str]:
    """The texts of the next `count` messages the peer's service emits."""
    return [(await peer.next_message()).message.body for _ in range(count)]


async def test_concurrent_sends_arrive_once_in_order_one_read_and_one_write(
    make_fake_peer: ServicePeerFactory,
) -> None:
    alice = await make_fake_peer()
    bob = await make_fake_peer()
    await alice.service.send(bob.jid, "hello")
    assert await received(bob, 1) == ["hello"]
    texts = [f"line {n}" for n in range(12)]
    trips: Trips = []
    reports = await grouped(alice, [(bob.jid, text) for text in texts], trips)

    assert all(isinstance(report, SendReport) for report in reports)
    ids = [report.archive_id or 0 for report in reports if isinstance(report, SendReport)]
    assert ids == sorted(set(ids))
    assert len(ids) == len(texts)
    assert len(trips) == 2, trips  # one read-ahead (sessions + trust), one unit of work
    assert await received(bob, len(texts)) == texts
    await bob.service.wait_idle()
    assert await archived(bob, alice.jid, Direction.IN) == ["hello", *texts]
    assert await archived(alice, bob.jid, Direction.OUT) == ["hello", *texts]

    await alice.service.send(bob.jid, "after the group")  # the committed state goes on
    await bob.service.send(alice.jid, "and back")
    assert await received(bob, 1) == ["after the group"]
    assert await received(alice, 1) == ["and back"]


@pytest.mark.prosody
async def test_a_failing_message_does_not_fail_the_others_of_its_group(
    make_peer: PeerFactory,
) -> None:
    alice = await make_peer()
    bob = await make_peer()
    carol = await make_peer()
    for peer in (bob, carol):
        await alice.service.send(peer.jid, "hello")
        assert await received(peer, 1) == ["hello"]
    await alice.service.set_trust(carol.jid, carol.service.device_id, TrustLevel.DISTRUSTED)
    sent_before = len(alice.sent)

    reports = await grouped(alice, [(bob.jid, "one"), (carol.jid, "secret"), (bob.jid, "two")])

    assert isinstance(reports[0], SendReport)
    assert isinstance(reports[2], SendReport)
    failure = reports[1]
    assert isinstance(failure, SendFailed)
    assert "no trusted device" in str(failure)
    assert [d.device_id for d in failure.report.skipped] == [carol.service.device_id]
    assert await received(bob, 2) == ["one", "two"]
    assert not [xml for xml in alice.sent[sent_before:] if carol.jid in xml]
    assert "secret" not in "".join(alice.sent)
    assert await archived(alice, carol.jid, Direction.OUT) == ["hello"]


@pytest.mark.prosody
async def test_a_new_device_met_in_a_group_raises_its_events_once(
    make_peer: PeerFactory,
) -> None:
    alice = await make_peer()
    bob = await make_peer()
    alice.drain_events()
    texts = [f"first contact {n}" for n in range(5)]

    reports = await grouped(alice, [(bob.jid, text) for text in texts])

    assert all(isinstance(report, SendReport) for report in reports)
    device = bob.service.device_id
    raised = [
        (e.event.kind, e.event.device_id)
        for e in alice.drain_events()
        if isinstance(e, SecurityEventRaised)
    ]
    assert raised.count((SecurityEventKind.NEW_DEVICE, device)) == 1
    assert raised.count((SecurityEventKind.DEVICE_TRUSTED_BLINDLY, device)) == 1

    def stored(uow: UnitOfWork) -> list[tuple[str, int | None]]:
        return [(event.kind, event.device_id) for event in uow.security_events.recent(peer=bob.jid)]

    events = await alice.service.runner.read(stored)
    assert events.count((SecurityEventKind.NEW_DEVICE.value, device)) == 1
    assert await received(bob, len(texts)) == texts


async def test_a_send_waiting_for_the_device_list_is_not_overtaken_by_the_next_ones(
    make_fake_peer: ServicePeerFactory,
) -> None:
    """The race behind the first contact's reordered messages, made on purpose: Alice's first
    message waits for Bob's device list from the network, the list comes in a notification
    meanwhile and her next messages find it cached. They still wait for the first one: all
    of them go out, are archived and reach Bob in the order she wrote them."""
    alice = await make_fake_peer()
    bob = await make_fake_peer()
    await alice.service.send(bob.jid, "hello")
    assert await received(bob, 1) == ["hello"]
    session: Any = alice.service.session
    transport: Any = alice.transport
    fetch = transport.fetch_device_list
    asked, answer = asyncio.Event(), asyncio.Event()

    async def slow_once(namespace: Namespace, jid: str) -> DeviceList:
        if jid == bob.jid and not asked.is_set():
            asked.set()
            await answer.wait()
        device_list: DeviceList = await fetch(namespace, jid)
        return device_list

    transport.fetch_device_list = slow_once
    session._directory.invalidate(bob.jid)
    texts = [f"in order {n}" for n in range(5)]
    async with session.lock:
        first = asyncio.create_task(alice.service.send(bob.jid, texts[0]))
        await asked.wait()
        for namespace in Namespace:  # a PEP notification: the list is cached now
            await session._directory.notified(bob.jid, await fetch(namespace, bob.jid))
        later = [asyncio.create_task(alice.service.send(bob.jid, text)) for text in texts[1:]]
        for _ in range(10):
            await asyncio.sleep(0)  # the later sends get as far as they can
        answer.set()
        await all_waiting(alice, len(texts))

    reports = await asyncio.gather(first, *later)

    ids = [report.archive_id or 0 for report in reports]
    assert ids == sorted(ids)
    assert await received(bob, len(texts)) == texts
    assert await archived(alice, bob.jid, Direction.OUT) == ["hello", *texts]


async def test_a_send_given_up_while_waiting_is_never_sent(
    make_fake_peer: ServicePeerFactory,
) -> None:
    alice = await make_fake_peer()
    bob = await make_fake_peer()
    await alice.service.send(bob.jid, "hello")
    assert await received(bob, 1) == ["hello"]
    session: Any = alice.service.session
    async with session.lock:
        kept = asyncio.create_task(alice.service.send(bob.jid, "kept"))
        dropped = asyncio.create_task(alice.service.send(bob.jid, "dropped"))
        await all_waiting(alice, 2)
        dropped.cancel()
        await asyncio.gather(dropped, return_exceptions=True)
    assert isinstance(await kept, SendReport)
    await alice.service.send(bob.jid, "last")
    assert await received(bob, 2) == ["kept", "last"]
    assert await archived(alice, bob.jid, Direction.OUT) == ["hello", "kept", "last"]


async def test_more_sends_than_one_group_holds_go_in_several_groups_in_order(
    make_fake_peer: ServicePeerFactory,
) -> None:
    alice = await make_fake_peer()
    bob = await make_fake_peer()
    await alice.service.send(bob.jid, "hello")
    assert await received(bob, 1) == ["hello"]
    texts = [f"paste {n}" for n in range(SEND_GROUP + 3)]
    trips: Trips = []

    reports = await grouped(alice, [(bob.jid, text) for text in texts], trips)

    assert all(isinstance(report, SendReport) for report in reports)
    assert len(trips) == 4, trips  # two groups: a read and a unit of work each
    assert await received(bob, len(texts)) == texts
    assert await archived(alice, bob.jid, Direction.OUT) == ["hello", *texts]
