"""Staged OMEMO state is served to the next encryption/decryption as it is (no copy): that is only
sound while the engine never modifies a value it loaded. A send group and a receive batch over
the contract-pinned fake transport, with every staged value served checked against its text when
it was served."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.service.conftest import ServicePeer, ServicePeerFactory
from tests.service.test_send_group import grouped, received
from tui_omemo.protocol.ports import JsonObject
from tui_omemo.service.api import SendReport
from tui_omemo.service.ports import Inbound
from tui_omemo.service.state import RunnerStateStore


@pytest.fixture
def make_peer(make_fake_peer: ServicePeerFactory) -> ServicePeerFactory:
    """This module's peers talk over the fake transport (`devtools/fake_transport.py`, pinned to
    the real one by tests/contract/test_transport.py): nothing here needs the XMPP wiring."""
    return make_fake_peer


Served = list[tuple[str, JsonObject, str]]


def watch_staged(monkeypatch: pytest.MonkeyPatch) -> Served:
    """Record each staged value served (key, the object, its JSON text at that moment)."""
    served: Served = []
    original = RunnerStateStore.load

    async def load(self: RunnerStateStore, key: str) -> JsonObject | None:
        value = await original(self, key)
        if value is not None and self.staging.changes.writes.get(key) is value:
            served.append((key, value, json.dumps(value, sort_keys=True)))
        return value

    monkeypatch.setattr(RunnerStateStore, "load", load)
    return served


def changed(served: Served) -> list[str]:
    """The keys of served values that changed after they were served."""
    return [key for key, value, text in served if json.dumps(value, sort_keys=True) != text]


async def test_staged_values_are_never_modified_by_their_next_reader(
    make_peer: ServicePeerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice = await make_peer()
    bob = await make_peer()
    await alice.service.send(bob.jid, "hello")
    assert await received(bob, 1) == ["hello"]
    served = watch_staged(monkeypatch)

    texts = [f"line {n}" for n in range(6)]
    reports = await grouped(alice, [(bob.jid, text) for text in texts])
    assert all(isinstance(report, SendReport) for report in reports)
    assert await received(bob, len(texts)) == texts
    sent_served = len(served)
    assert sent_served >= len(texts) - 1  # each send after the first read the staged session

    await held_back_then_batched(bob, alice, [f"back {n}" for n in range(5)])
    assert len(served) > sent_served  # the batch's later decryptions read staged state
    assert changed(served) == []


async def held_back_then_batched(
    sender: ServicePeer, receiver: ServicePeer, texts: list[str]
) -> None:
    """`sender` sends `texts` while the receiver's transport keeps them; the receiver then
    takes all of them as one batch (one unit of work)."""
    kept: asyncio.Queue[Inbound] = asyncio.Queue()
    receiver.transport.set_handlers(kept.put_nowait, lambda _c, _d: None)
    for text in texts:
        await sender.service.send(receiver.jid, text)
    inbounds = [await asyncio.wait_for(kept.get(), 10) for _ in texts]
    await receiver.service.session.accept_all(inbounds)
    assert await received(receiver, len(texts)) == texts
