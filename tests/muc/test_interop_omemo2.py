"""OMEMO 2 in a room with slixmpp-omemo 2.2 through Prosody (issue 13 §1): our room message
reaches its users' `groupchat_message` handler (slixmpp raises it only for a stanza with a
`<body>`, so only thanks to the fallback body) and python-omemo decrypts it; python-omemo's
OMEMO 2 room message is decrypted by our member."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tests.cli.omemo_peer import V2
from tests.muc.conftest import MemberFactory, MucPeer
from tui_omemo.model import Namespace

pytestmark = [pytest.mark.prosody]


async def test_omemo_2_room_messages_both_ways_with_slixmpp_omemo(
    make_member: MemberFactory,
    make_muc_peer: Callable[[], Awaitable[MucPeer]],
    room_jid: Callable[[], str],
) -> None:
    """Alice (ours) and Carol (slixmpp-omemo) in a members-only non-anonymous room speaking
    OMEMO 2: each reads the other's message, the sender named by real JID."""
    alice = await make_member()
    carol = await make_muc_peer()
    carol_jid = carol.client.boundjid.bare
    room = room_jid()
    info = await alice.groups.create_room(room, "alice", [carol_jid])
    assert info.omemo_allowed
    await alice.groups.set_room_version(room, Namespace.V2)
    await carol.join(room, "carol")
    await carol.refresh(alice.jid)

    report = await alice.groups.send_to_room(room, "OMEMO 2 to the room")
    assert report.omemo is Namespace.V2
    heard = await carol.next_room_message()
    assert (heard.text, heard.namespace, heard.sender) == (
        "OMEMO 2 to the room",
        V2,
        f"{room}/alice",
    ), carol.errors

    await carol.send_v2(room, "OMEMO 2 from carol", members={alice.jid})
    got = (await alice.next_room_message(room)).message
    assert (got.body, got.sender, got.nick, got.omemo) == (
        "OMEMO 2 from carol",
        carol_jid,
        "carol",
        Namespace.V2,
    )
    assert not carol.errors, carol.errors
