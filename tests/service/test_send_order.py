"""`ChatTurns` (`service/send_order.py`): the sends of one chat get ready one after the other,
in the order they asked; other chats never wait for them; a send that gives up leaves the line."""

from __future__ import annotations

import asyncio

from tui_omemo.service.send_order import ChatTurns


async def _take(
    turns: ChatTurns, chat: str, name: str, log: list[str], hold: asyncio.Event
) -> None:
    async with turns.turn(chat):
        log.append(name)
        await hold.wait()


def _open() -> asyncio.Event:
    event = asyncio.Event()
    event.set()
    return event


async def test_turns_of_one_chat_follow_the_order_they_were_asked_in() -> None:
    turns, log, hold = ChatTurns(), list[str](), asyncio.Event()
    tasks = [asyncio.create_task(_take(turns, "bob@x", f"send {n}", log, hold)) for n in range(4)]
    await asyncio.sleep(0)
    assert log == ["send 0"]  # the others wait while the first gets ready

    hold.set()
    await asyncio.gather(*tasks)

    assert log == [f"send {n}" for n in range(4)]
    assert turns._lines == {}  # an empty line is forgotten


async def test_another_chat_does_not_wait_and_a_send_that_gives_up_leaves_the_line() -> None:
    turns, log, hold = ChatTurns(), list[str](), asyncio.Event()
    first = asyncio.create_task(_take(turns, "bob@x", "bob 0", log, hold))
    gives_up = asyncio.create_task(_take(turns, "bob@x", "bob 1", log, asyncio.Event()))
    last = asyncio.create_task(_take(turns, "bob@x", "bob 2", log, hold))
    await asyncio.sleep(0)
    async with asyncio.timeout(1):  # the room's turn is free while Bob's is held
        await _take(turns, "room@x", "room", log, _open())
    gives_up.cancel()

    hold.set()
    await asyncio.gather(first, last)

    assert log == ["bob 0", "room", "bob 2"]
    assert gives_up.cancelled()
    assert turns._lines == {}
