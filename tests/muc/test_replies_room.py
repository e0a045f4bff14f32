"""XEP-0461 replies in a room (issue #17), in both OMEMO versions, over Prosody: a reply names
the room's stanza-id of the message it answers (ours learnt from the room's reflection) and
is addressed to its author's occupant JID; it is encrypted like any room message (0.3:
`<reply>` and its `<fallback>` outside next to the encrypted body, as Conversations; OMEMO 2:
only inside the SCE envelope); the member sees the text without the quoted fallback and
knows which message it answers. A message the room gave no stanza-id is refused in words."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from tests.muc.conftest import Member, MemberFactory
from tui_omemo.model import Namespace
from tui_omemo.service.api import MessageSent, SendFailed
from tui_omemo.store import Direction, NewMessage

pytestmark = pytest.mark.prosody

REPLY = "{urn:xmpp:reply:0}reply"
FALLBACK = "{urn:xmpp:fallback:0}fallback"


async def own_stanza_id(member: Member) -> str:
    """The room's stanza-id our message learnt from its reflection: its `MessageSent` comes
    again, now with that id (the archive has it too)."""
    first = (await member.peer.next_event(MessageSent)).message
    assert first.message_id is None  # archived before it left
    again = (await member.peer.next_event(MessageSent)).message
    assert again.archive_id == first.archive_id
    assert again.message_id is not None
    page = await member.peer.service.history(again.peer, None, 20)
    assert [m.message_id for m in page.messages if m.archive_id == first.archive_id] == [
        again.message_id
    ]
    return again.message_id


@pytest.mark.parametrize("namespace", [Namespace.LEGACY, Namespace.V2], ids=["0.3", "2"])
async def test_a_room_reply_names_the_rooms_stanza_id_and_arrives_without_its_quote(
    make_member: MemberFactory, room_jid: Callable[[], str], namespace: Namespace
) -> None:
    alice, bob = await make_member(), await make_member()
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid])
    await bob.groups.join_room(room, "bob")
    for member in (alice, bob):
        await member.groups.set_room_version(room, namespace)
    await bob.groups.send_to_room(room, "lunch at noon?\nor later")
    original = (await alice.next_room_message(room)).message
    stanza_id = await own_stanza_id(bob)
    assert original.message_id == stanza_id  # the room's id, the same on both sides
    sent_before = len(alice.peer.sent)

    await alice.peer.service.reply(room, original.archive_id, "noon is fine")
    answer = (await bob.next_room_message(room)).message
    assert (answer.body, answer.reply_to, answer.nick) == ("noon is fine", stanza_id, "alice")
    ours = (await alice.peer.service.history(room, None, 10)).messages[-1]
    assert (ours.body, ours.reply_to) == ("noon is fine", stanza_id)

    await asyncio.sleep(0.3)  # the recording filter has seen the stanza
    sent = [ET.fromstring(x) for x in alice.peer.sent[sent_before:] if "<payload>" in x]
    assert [element.get("type") for element in sent] == ["groupchat"]
    outside = sent[0].find(REPLY)
    if namespace is Namespace.LEGACY:  # next to the encrypted body, as Conversations
        assert outside is not None
        assert (outside.get("id"), outside.get("to")) == (stanza_id, f"{room}/bob")
    else:  # only inside the envelope
        assert outside is None
    fallbacks = [f.get("for") for f in sent[0].findall(FALLBACK)]
    assert ("urn:xmpp:reply:0" in fallbacks) is (namespace is Namespace.LEGACY)
    assert all("noon is fine" not in xml and "lunch" not in xml for xml in alice.peer.sent)


async def test_a_room_message_without_a_stanza_id_is_not_answered(
    make_member: MemberFactory, room_jid: Callable[[], str]
) -> None:
    alice, bob = await make_member(), await make_member()
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid])
    await bob.groups.join_room(room, "bob")
    unstamped = NewMessage(
        peer=room,
        direction=Direction.IN,
        sender_bare_jid=bob.jid,
        body="from a room that stamps no ids",
        timestamp=1,
        received_at=1,
        dedupe_keys=("test:unstamped",),
        room=room,
        nick="bob",
        message_id="plain-id",
    )
    archive_id = await alice.peer.service.runner.write(lambda uow: uow.archive.append(unstamped))
    sent_before = len(alice.peer.sent)

    with pytest.raises(SendFailed, match="the room gave it no stanza-id"):
        await alice.peer.service.reply(room, archive_id, "what ids?")
    assert not [x for x in alice.peer.sent[sent_before:] if x.startswith("<message")]
