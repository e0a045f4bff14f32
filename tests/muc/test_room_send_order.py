"""Sends of one room reach its members in the order they were made, however long each one
waits for the room's member lists before it is queued (`service/send_order.py`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.muc.conftest import MemberFactory

pytestmark = [pytest.mark.prosody]

OVERTAKING_WINDOW = 1.0
"""How long the second send gets to go out while the first one waits (it goes out within
milliseconds when nothing holds it back)."""


async def test_a_room_send_waiting_for_the_member_list_is_not_overtaken(
    make_member: MemberFactory,
    room_jid: Callable[[], str],
) -> None:
    """The first send's question for the member lists stays unanswered while the second send
    of the room could go out: the second one waits for it, and Bob reads both in order."""
    alice, bob = await make_member(), await make_member()
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid])
    await bob.groups.join_room(room, "bob")
    await alice.groups.send_to_room(room, "hello room")
    assert (await bob.next_room_message(room)).message.body == "hello room"
    rooms: Any = alice.groups._rooms
    affiliated = rooms.affiliated
    asked, answer = asyncio.Event(), asyncio.Event()
    sends: list[asyncio.Task[Any]] = []

    async def slow_for_the_first(jid: str, affiliation: str) -> list[str]:
        if asyncio.current_task() is sends[0] and not asked.is_set():
            asked.set()
            await answer.wait()
        jids: list[str] = await affiliated(jid, affiliation)
        return jids

    rooms.affiliated = slow_for_the_first
    sends.append(asyncio.create_task(alice.groups.send_to_room(room, "one")))
    await asked.wait()
    sends.append(asyncio.create_task(alice.groups.send_to_room(room, "two")))
    await asyncio.wait(sends[1:], timeout=OVERTAKING_WINDOW)  # "two" goes out if it may
    answer.set()

    reports = await asyncio.gather(*sends)

    ids = [report.archive_id or 0 for report in reports]
    assert ids == sorted(ids)
    got = [(await bob.next_room_message(room)).message.body for _ in range(2)]
    assert got == ["one", "two"]
