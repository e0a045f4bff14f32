"""Presence and subscription requests over Prosody (issue 17): a request to see our presence
shows on the requester's row and is granted only by the answer; our own show and status message
reach the contact's roster row, as data."""

from __future__ import annotations

import asyncio

import pytest

from tests.service.conftest import TIMEOUT, Peer, PeerFactory
from tui_omemo.service.api import ChatSummary, Presence, RosterChanged, Subscription

pytestmark = pytest.mark.prosody


async def _row_event(peer: Peer, jid: str, wanted: object) -> ChatSummary:
    """The first RosterChanged of `jid` for which `wanted(row)` holds."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            event = await peer.next_event(RosterChanged)
            if event.chat.jid == jid and wanted(event.chat):  # type: ignore[operator]
                return event.chat


async def test_a_request_waits_for_the_answer_then_status_reaches_the_contact(
    make_peer: PeerFactory,
) -> None:
    """Alice asks Bob; Bob's roster gets a row for her marked as asking (nothing granted);
    "allow and add" makes the subscription mutual; Bob's `away` with a status message (markup
    in it) then shows on Alice's row for him, text as sent."""
    alice, bob = await make_peer(), await make_peer()
    alice.start_pump()
    bob.start_pump()
    await alice.service.add_contact(bob.jid)
    asking = await _row_event(bob, alice.jid, lambda row: row.asks_subscription)
    assert not asking.in_roster
    assert [c.jid for c in await bob.service.chats() if c.asks_subscription] == [alice.jid]

    await bob.service.answer_subscription(alice.jid, True, True)
    await _row_event(alice, bob.jid, lambda row: row.subscription is Subscription.BOTH)
    assert not [c for c in await bob.service.chats() if c.asks_subscription]

    await bob.service.update_setting("show", "away")
    await bob.service.update_setting("status_message", "[b]back[/b] soon")
    seen = await _row_event(alice, bob.jid, lambda row: row.status_text == "[b]back[/b] soon")
    assert seen.presence is Presence.AWAY


async def test_a_denied_request_leaves_the_requester_without_our_presence(
    make_peer: PeerFactory,
) -> None:
    """Deny: the mark goes, and the requester's roster says our answer was no (`none`)."""
    alice, bob = await make_peer(), await make_peer()
    alice.start_pump()
    bob.start_pump()
    await alice.service.add_contact(bob.jid)
    await _row_event(bob, alice.jid, lambda row: row.asks_subscription)
    await bob.service.answer_subscription(alice.jid, False, False)
    assert not [c for c in await bob.service.chats() if c.asks_subscription]
    await _row_event(alice, bob.jid, lambda row: row.subscription is Subscription.NONE)
