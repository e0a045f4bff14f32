"""Rooms only where they matter: a start for a 1:1 command (`send`, `devices`, `trust`) never
asks the server for the room bookmarks; a start with rooms (`listen`, `muc`, the app) does.
Asserted on the XML that left the process, over the real Prosody."""

from __future__ import annotations

import pytest

from tests.service.conftest import Peer, PeerFactory
from tui_omemo.xmpp.bookmarks import BOOKMARKS2, BOOKMARKS_LEGACY

pytestmark = pytest.mark.prosody


def bookmark_queries(peer: Peer) -> list[str]:
    """Every outgoing stanza that reads or writes room bookmarks (either XEP)."""
    return [xml for xml in peer.sent if BOOKMARKS2 in xml or BOOKMARKS_LEGACY in xml]


async def test_start_without_rooms_sends_no_bookmarks_query_and_send_works(
    make_peer: PeerFactory,
) -> None:
    """`start(rooms=False)` (what `online(..., rooms=False)` does for `send`): the contact gets
    the message and not one stanza about bookmarks left the process."""
    bob = await make_peer()
    alice = await make_peer(start=False)
    await alice.service.start(rooms=False)
    await alice.service.send(bob.jid, "no rooms needed")
    assert (await bob.next_message()).message.body == "no rooms needed"
    assert bookmark_queries(alice) == []
    assert alice.service.groups is None or alice.service.groups.joined_rooms() == []


async def test_start_with_rooms_queries_the_bookmarks(make_peer: PeerFactory) -> None:
    """The default start (listen, muc, the app) reads the bookmarks to rejoin rooms: the
    counterpart that shows the assertion above can fail."""
    alice = await make_peer(start=False)
    await alice.service.start()
    if alice.service.groups is None:
        pytest.skip("this transport has no group-chat component")
    assert bookmark_queries(alice) != []
