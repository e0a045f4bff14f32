"""Trust bookkeeping on the sending side: a device met for the first time while sending is
recorded with its security events; later sends to it only read what is stored."""

from __future__ import annotations

import pytest

from tests.service.conftest import ServicePeer, ServicePeerFactory
from tui_omemo.events import SecurityEventKind
from tui_omemo.model import TrustLevel
from tui_omemo.service.api import SecurityEventRaised
from tui_omemo.store import UnitOfWork


@pytest.fixture
def make_peer(make_fake_peer: ServicePeerFactory) -> ServicePeerFactory:
    """This module's peers talk over the fake transport (`devtools/fake_transport.py`, pinned to
    the real one by tests/contract/test_transport.py): nothing here needs the XMPP wiring."""
    return make_fake_peer


async def stored_about(
    peer: ServicePeer, jid: str
) -> tuple[list[tuple[str, int | None]], list[object]]:
    """The stored security events about `jid` (kind, device) and its trust history."""

    def read(uow: UnitOfWork) -> tuple[list[tuple[str, int | None]], list[object]]:
        events = [(event.kind, event.device_id) for event in uow.security_events.recent(peer=jid)]
        return events, list(uow.trust.history(jid))

    return await peer.service.runner.read(read)


async def test_first_send_records_the_new_device_later_sends_change_nothing(
    make_peer: ServicePeerFactory,
) -> None:
    alice = await make_peer()
    bob = await make_peer()
    await alice.service.send(bob.jid, "hello")
    device = bob.service.device_id
    events, history = await stored_about(alice, bob.jid)
    assert (SecurityEventKind.NEW_DEVICE.value, device) in events
    assert (SecurityEventKind.DEVICE_TRUSTED_BLINDLY.value, device) in events
    assert history
    levels = {d.device_id: d.trust for d in await alice.service.devices(bob.jid)}
    assert levels[device] is TrustLevel.BLINDLY_TRUSTED
    alice.drain_events()

    for text in ("again", "and again"):
        await alice.service.send(bob.jid, text)
    assert await stored_about(alice, bob.jid) == (events, history)
    assert not [e for e in alice.drain_events() if isinstance(e, SecurityEventRaised)]
    assert (await bob.next_message()).message.body == "hello"
