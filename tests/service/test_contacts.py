"""Contacts over Prosody: the subscription state of a roster row (our pending request, then
the answer pushed by the server), device lists fetched while the request is pending, and
removing and naming a contact (on the server, not only in our cache)."""

from __future__ import annotations

import asyncio

import pytest

from tests.service.conftest import TIMEOUT, Peer, PeerFactory
from tui_omemo.service.api import ChatSummary, RosterChanged, Subscription

pytestmark = pytest.mark.prosody


async def _row(peer: Peer, jid: str) -> ChatSummary | None:
    return next((chat for chat in await peer.service.chats() if chat.jid == jid), None)


async def _server_item(peer: Peer, jid: str) -> tuple[str | None, str] | None:
    entry = next((e for e in await peer.xmpp.roster() if e.bare_jid == jid), None)
    return None if entry is None else (entry.name, entry.subscription)


async def _bob_sees_alice_as(bob: Peer, alice: str, want: tuple[str | None, str]) -> None:
    """Bob's server roster reaches `want` for Alice (the server tells him asynchronously)."""
    seen = asyncio.Event()
    bob.xmpp.add_roster_listener(seen.set)
    async with asyncio.timeout(TIMEOUT):
        while await _server_item(bob, alice) != want:
            await seen.wait()
            seen.clear()


async def test_pending_request_then_the_answer_then_removal(make_peer: PeerFactory) -> None:
    """Alice's request to Bob shows as pending, and Bob's second device is found while it is;
    Bob's answer arrives as a roster push that turns the row to a mutual subscription; a
    nickname is stored on the server; removing Bob ends both subscriptions."""
    alice = await make_peer()
    bob = await make_peer()
    await alice.service.add_contact(bob.jid)
    row = await _row(alice, bob.jid)
    assert row is not None
    assert row.subscription is Subscription.PENDING
    server_says = [item.subscription for item in await alice.transport.roster()]
    assert server_says == ["pending"]  # after a restart too

    phone = await make_peer((bob.jid, bob.password))
    await alice.service.refresh_device_list(bob.jid)
    ids = {d.device_id for d in await alice.service.devices(bob.jid)}
    assert ids == {bob.service.device_id, phone.service.device_id}

    alice.drain_events()
    await bob.service.add_contact(alice.jid)
    async with asyncio.timeout(TIMEOUT):
        while True:
            event = await alice.next_event(RosterChanged)
            if event.chat.jid == bob.jid and event.chat.subscription is Subscription.BOTH:
                break

    await alice.service.rename_contact(bob.jid, "  Bobby  Tables ")
    row = await _row(alice, bob.jid)
    assert row is not None
    assert row.name == "Bobby Tables"
    assert await _server_item(alice, bob.jid) == ("Bobby Tables", "both")

    await alice.service.remove_contact(bob.jid)
    assert await _row(alice, bob.jid) is None
    assert await _server_item(alice, bob.jid) is None
    await _bob_sees_alice_as(bob, alice.jid, (None, "none"))
    with pytest.raises(KeyError):
        await alice.service.rename_contact(bob.jid, "gone")
