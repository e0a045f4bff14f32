"""Rooms and 1:1 chats share one outbound pipeline (issue 14): a room send and 1:1 sends that
wait for the engine lock together are encrypted in turn and committed as ONE unit of work, in
order, and each caller gets its own report."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.muc.conftest import TIMEOUT, MemberFactory
from tests.service.test_send_group import Trips, count_trips
from tui_omemo.service.api import SendReport

pytestmark = [pytest.mark.prosody]


async def test_a_room_send_and_direct_sends_waiting_together_commit_as_one_unit_of_work(
    make_member: MemberFactory, room_jid: Callable[[], str]
) -> None:
    alice, bob = await make_member(), await make_member()
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid])
    await bob.groups.join_room(room, "bob")
    await alice.peer.service.send(bob.jid, "hello")
    assert (await bob.peer.next_message()).message.body == "hello"
    await alice.groups.send_to_room(room, "hello room")
    assert (await bob.next_room_message(room)).message.body == "hello room"
    session: Any = alice.peer.service.session
    trips: Trips = []

    async def waiting(count: int) -> None:
        async with asyncio.timeout(TIMEOUT):
            while len(session.outbound._waiting) < count:  # noqa: ASYNC110
                await asyncio.sleep(0.01)

    async with session.lock:
        ordered = [asyncio.create_task(alice.groups.send_to_room(room, "one"))]
        await waiting(1)  # the room send refreshes the member list before it queues
        ordered += [
            asyncio.create_task(alice.peer.service.send(bob.jid, text)) for text in ("two", "three")
        ]
        await waiting(3)
        count_trips(alice.peer, set(ordered), trips)
    reports = await asyncio.gather(*ordered)

    assert all(isinstance(report, SendReport) for report in reports)
    ids = [report.archive_id or 0 for report in reports]
    assert ids == sorted(set(ids))  # archived in the order they were sent
    assert trips.count("_in_unit_of_work") == 1, trips  # one commit for all three
    got = [(await bob.peer.next_message()).message for _ in range(3)]
    assert {(message.peer, message.body) for message in got} == {
        (room, "one"),
        (alice.jid, "two"),
        (alice.jid, "three"),
    }
