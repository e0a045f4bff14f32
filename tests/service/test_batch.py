"""Stanzas that arrive together go through the inbound pipeline as one batch: one inbox write,
decryptions that build on each other before anything is committed, ONE unit of work, and the
same exactly-once and silent-duplicate guarantees as one stanza at a time (DESIGN.md §3)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from tests.service.conftest import ServicePeer, ServicePeerFactory
from tui_omemo.model import Arrival, Namespace
from tui_omemo.protocol.elements import EncryptedElement
from tui_omemo.service.api import MessageReceived, MessageTrust, SecurityEventRaised
from tui_omemo.service.ports import Inbound


@pytest.fixture
def make_peer(make_fake_peer: ServicePeerFactory) -> ServicePeerFactory:
    """This module's peers talk over the fake transport (`devtools/fake_transport.py`, pinned to
    the real one by tests/contract/test_transport.py): nothing here needs the XMPP wiring."""
    return make_fake_peer


async def held_back(alice: ServicePeer, bob: ServicePeer, texts: list[str]) -> list[Inbound]:
    """Alice sends `texts`; Bob's transport hands them over but nothing processes them."""
    kept: asyncio.Queue[Inbound] = asyncio.Queue()
    bob.transport.set_handlers(kept.put_nowait, lambda _c, _d: None)
    for text in texts:
        await alice.service.send(bob.jid, text)
    return [await asyncio.wait_for(kept.get(), 10) for _ in texts]


async def warm(alice: ServicePeer, bob: ServicePeer) -> None:
    """A session both ways, its key exchange answered: later messages are plain ratchet
    steps (no follow-up writes of their own)."""
    await alice.service.set_chat_version(bob.jid, Namespace.V2)
    await alice.service.send(bob.jid, "hello")
    await bob.next_message()
    await bob.service.wait_idle()
    await bob.service.send(alice.jid, "hi")
    await alice.next_message()
    await alice.service.wait_idle()


def count_trips(peer: ServicePeer) -> dict[str, int]:
    """Count the units of work (`write`) and read snapshots (`read`) the peer's DB thread
    runs from now on."""
    runner: Any = peer.service.runner
    calls = {"write": 0, "read": 0}

    def counting(name: str) -> Callable[..., Any]:
        original: Callable[..., Any] = getattr(runner, name)

        async def counted(fn: Any) -> Any:
            calls[name] += 1
            return await original(fn)

        return counted

    runner.write, runner.read = counting("write"), counting("read")
    return calls


async def archived(peer: ServicePeer, jid: str) -> list[str]:
    """The bodies of the incoming messages archived in the chat with `jid`, oldest first."""
    page = await peer.service.history(jid, None, 100)
    return [message.body for message in page.messages if not message.outgoing]


async def test_messages_arriving_together_are_one_inbox_write_and_one_unit_of_work(
    make_peer: ServicePeerFactory,
) -> None:
    """Five messages taken together: every one archived once, in order, each emitted; the
    store sees two units of work (the inbox write, which also reads the sender's session
    ahead, then everything else) and no separate read."""
    alice = await make_peer()
    bob = await make_peer()
    await warm(alice, bob)
    texts = [f"together {n}" for n in range(5)]
    inbounds = await held_back(alice, bob, texts)
    bob.drain_events()
    trips = count_trips(bob)
    await bob.service.session.accept_all(inbounds)
    assert trips == {"write": 2, "read": 0}
    assert await archived(bob, alice.jid) == ["hello", *texts]
    emitted = [e.message.body for e in bob.drain_events() if isinstance(e, MessageReceived)]
    assert emitted == texts
    assert await bob.service.runner.read(lambda uow: uow.inbox.count()) == 0


async def test_out_of_order_messages_in_one_batch_use_keys_staged_before_the_commit(
    make_peer: ServicePeerFactory,
) -> None:
    """Newest first: the first decryption skips ahead and stages the skipped message keys,
    the later ones in the same batch consume them before anything is committed; afterwards
    the committed state carries on (both ways)."""
    alice = await make_peer()
    bob = await make_peer()
    await warm(alice, bob)
    texts = [f"reordered {n}" for n in range(4)]
    inbounds = await held_back(alice, bob, texts)
    await bob.service.session.accept_all(list(reversed(inbounds)))
    assert sorted(await archived(bob, alice.jid)) == sorted(["hello", *texts])
    assert not [e for e in bob.drain_events() if isinstance(e, SecurityEventRaised)]
    bob.transport.set_handlers(bob.service.session.enqueue, lambda _c, _d: None)
    await alice.service.send(bob.jid, "after the batch")
    assert (await bob.next_message()).message.body == "after the batch"
    await bob.service.send(alice.jid, "still fine")
    assert (await alice.next_message()).message.body == "still fine"


async def test_copies_inside_one_batch_are_silent(make_peer: ServicePeerFactory) -> None:
    """The same message live, as a carbon and as a MAM result in one batch: one row, one
    MessageReceived, no security event."""
    alice = await make_peer()
    bob = await make_peer()
    await warm(alice, bob)
    (live,) = await held_back(alice, bob, ["once"])
    copies = [
        live,
        dataclasses.replace(
            live,
            arrival=Arrival.CARBON_RECEIVED,
            wrapper_from=bob.jid,
            stanza_id=None,
        ),
        dataclasses.replace(
            live,
            arrival=Arrival.MAM,
            wrapper_from=bob.jid,
            mam_query_id="q",
            solicited=True,
        ),
    ]
    bob.drain_events()
    await bob.service.session.accept_all(copies)
    assert await archived(bob, alice.jid) == ["hello", "once"]
    events = bob.drain_events()
    assert [e.message.body for e in events if isinstance(e, MessageReceived)] == ["once"]
    assert not [e for e in events if isinstance(e, SecurityEventRaised)]
    assert await bob.service.runner.read(lambda uow: uow.inbox.count()) == 0


async def test_a_tampered_message_in_a_batch_fails_alone(make_peer: ServicePeerFactory) -> None:
    """One tampered payload among good messages: the good ones are archived and decrypted,
    the bad one becomes a failure row with a security event, and the session state left
    behind is the one the good messages produced (the next message decrypts)."""
    alice = await make_peer()
    bob = await make_peer()
    await warm(alice, bob)
    first, middle, last = await held_back(alice, bob, ["good one", "tampered", "good two"])
    assert middle.encrypted is not None
    assert middle.encrypted.payload is not None
    payload = bytes([middle.encrypted.payload[0] ^ 1]) + middle.encrypted.payload[1:]
    element: EncryptedElement = dataclasses.replace(middle.encrypted, payload=payload)
    bob.drain_events()
    await bob.service.session.accept_all(
        [first, dataclasses.replace(middle, encrypted=element), last]
    )
    page = [m for m in (await bob.service.history(alice.jid, None, 100)).messages if not m.outgoing]
    assert [m.body for m in page if m.failure is None] == ["hello", "good one", "good two"]
    assert [m.trust for m in page if m.failure is not None] == [MessageTrust.FAILED]
    assert len([e for e in bob.drain_events() if isinstance(e, SecurityEventRaised)]) == 1
    bob.transport.set_handlers(bob.service.session.enqueue, lambda _c, _d: None)
    await alice.service.send(bob.jid, "next")
    assert (await bob.next_message()).message.body == "next"
