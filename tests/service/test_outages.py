"""Outages the running service rides out (issue 19): a stanza a transient failure left in the
inbox is processed as soon as the stream is back (not only at the next start), and a start-up
whose stream breaks under it (here inside the publishing of our keys) waits for the reconnect
and finishes instead of failing. Over the Prosody fixture; the breaks are real (a cut socket,
a relay cutting inside an element).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from tests.prosody import ProsodyServer
from tests.relay import Cut, Relay
from tests.service.conftest import (
    PeerFactory,
    connection_change,
    cut,
    exchange,
)
from tui_omemo.service.ports import LINK_LOST, LINK_ONLINE, LINK_RESUMED
from tui_omemo.xmpp.errors import NotConnected

pytestmark = pytest.mark.prosody


async def quick_pause(_attempt: int) -> None:
    await asyncio.sleep(0.05)


@pytest.mark.parametrize("resume", [True, False], ids=["resumed", "fresh-session"])
async def test_a_stanza_left_in_the_inbox_is_processed_once_the_stream_is_back(
    make_peer: PeerFactory, monkeypatch: pytest.MonkeyPatch, resume: bool
) -> None:
    alice = await make_peer()
    bob = await make_peer(resume=resume, pause=quick_pause)
    await exchange(alice, bob, "hello")
    session = bob.service.session
    real = session._process_locked
    failed = asyncio.Event()

    async def fail_once(
        items: Sequence[Any],
        dropped: Sequence[int] = (),
        *,
        ahead: Mapping[str, str | None] | None = None,
    ) -> None:
        if not failed.is_set():  # as when a device list refetch meets the stream breaking
            failed.set()
            raise NotConnected("the stream broke before the server answered")
        await real(items, dropped, ahead=ahead)

    monkeypatch.setattr(session, "_process_locked", fail_once)
    await alice.service.send(bob.jid, "left in the inbox")
    async with asyncio.timeout(15):
        await failed.wait()
    await bob.service.wait_idle()
    assert await bob.service.runner.read(lambda uow: uow.inbox.count()) == 1

    cut(bob)
    assert (await connection_change(bob)).detail == LINK_LOST
    back = await connection_change(bob)
    assert back.detail == (LINK_RESUMED if resume else LINK_ONLINE)
    assert (await bob.next_message()).message.body == "left in the inbox"
    assert await bob.service.runner.read(lambda uow: uow.inbox.count()) == 0
    await exchange(alice, bob, "after")  # and only once


async def test_a_start_whose_stream_breaks_while_publishing_waits_and_finishes(
    make_peer: PeerFactory, prosody: ProsodyServer
) -> None:
    async with Relay(prosody.port) as relay:
        alice = await make_peer(port=relay.port, start=False, pause=quick_pause)
        relay.arm(Cut(upstream=True, element=b"<pubsub"))  # inside publishing our keys
        await alice.service.start()
        assert relay.cuts  # it did break on the way
        bob = await make_peer()
        await exchange(bob, alice, "started anyway")
