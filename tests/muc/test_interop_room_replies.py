"""XEP-0461 replies in a room with an independent implementation through Prosody (issue #17):
Carol is slixmpp-omemo 2.2 (python-omemo) with slixmpp's XEP-0461 stanzas (`MucPeer`).

Her reply to our room message shows here without its quote, with `reply_to` the room's
stanza-id of our message (the one our history keeps for it and the one she read on the wire).
Our reply to her message reaches her with a `<reply>` whose id is the room's stanza-id of her
message (read from its reflection to her) and whose `to` is her occupant JID. For OMEMO 0.3 her
`<reply>` goes outside the encryption (slixmpp-omemo's `encrypt_message` keeps only the body),
as Conversations does; for OMEMO 2 the test writes it into the SCE envelope (slixmpp-omemo 2.2
has no SCE), encrypted by python-omemo.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from tests.cli.omemo_peer import LEGACY, V2
from tests.muc.conftest import TIMEOUT, MemberFactory, MucPeer
from tui_omemo.model import Namespace

pytestmark = [pytest.mark.prosody]


@pytest.mark.parametrize("namespace", [Namespace.LEGACY, Namespace.V2], ids=["0.3", "2"])
async def test_room_replies_both_ways_with_slixmpp_omemo(
    make_member: MemberFactory,
    make_muc_peer: Callable[[], Awaitable[MucPeer]],
    room_jid: Callable[[], str],
    namespace: Namespace,
) -> None:
    alice, carol = await make_member(), await make_muc_peer()
    room = room_jid()
    await alice.groups.create_room(room, "alice", [carol.client.boundjid.bare])
    await alice.groups.set_room_version(room, namespace)
    await carol.join(room, "carol")
    await carol.refresh(alice.jid)

    await alice.groups.send_to_room(room, "lunch at noon?")
    asked = await carol.next_room_message()
    assert asked.stanza_id is not None, carol.errors
    reply = (asked.stanza_id, "lunch at noon?")
    if namespace is Namespace.V2:
        await carol.send_v2(room, "noon is fine", members={alice.jid}, reply=reply)
    else:
        await carol.send_to_room(room, [alice.jid], "noon is fine", reply=reply)
    got = (await alice.next_room_message(room)).message
    assert (got.body, got.reply_to, got.omemo) == ("noon is fine", asked.stanza_id, namespace)
    page = await alice.peer.service.history(room, None, 10)
    ours = [m.message_id for m in page.messages if m.body == "lunch at noon?"]
    assert ours == [asked.stanza_id]  # the id the room stamped, the same on both sides

    theirs = await asyncio.wait_for(carol.reflected.get(), TIMEOUT)
    assert got.message_id == theirs  # her message's room stanza-id, here as for her
    await alice.peer.service.reply(room, got.archive_id, "see you there")
    heard = await carol.next_room_message()
    assert (heard.namespace, heard.reply_to, heard.reply_for, heard.shown) == (
        V2 if namespace is Namespace.V2 else LEGACY,
        theirs,
        f"{room}/carol",
        "see you there",
    ), carol.errors
    assert heard.text == "> noon is fine\nsee you there"  # what clients without replies show
    assert not carol.errors, carol.errors
