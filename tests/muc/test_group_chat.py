"""Encrypted group chats through Prosody: two of our accounts and a slixmpp-omemo peer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from tests.muc.conftest import MemberFactory, MucPeer
from tui_omemo.config import Settings
from tui_omemo.events import SecurityEventKind
from tui_omemo.model import Namespace, TrustLevel
from tui_omemo.service.api import ChatSecurity, SendFailed
from tui_omemo.service.muc import REFUSE_ANONYMOUS

pytestmark = [pytest.mark.prosody]

RoomJid = Callable[[], str]


async def _archived(member, room: str, body: str) -> int:  # type: ignore[no-untyped-def]
    page = await member.peer.service.history(room, None, 100)
    return sum(1 for message in page.messages if message.body == body)


async def test_three_members_read_each_other_both_directions(
    make_member: MemberFactory,
    make_muc_peer: Callable[[], Awaitable[MucPeer]],
    room_jid: RoomJid,
) -> None:
    """In a members-only non-anonymous room every message is decrypted by every other member
    (ours ↔ ours ↔ slixmpp-omemo, OMEMO 0.3), senders are named by real JID and nick, and our
    own reflection is archived once."""
    alice, bob = await make_member(), await make_member()
    carol = await make_muc_peer()
    carol_jid = carol.client.boundjid.bare
    room = room_jid()
    info = await alice.groups.create_room(room, "alice", [bob.jid, carol_jid])
    assert info.omemo_allowed
    assert info.omemo_refusal is None
    await alice.groups.set_room_version(room, Namespace.LEGACY)  # slixmpp-omemo has no SCE
    await bob.groups.join_room(room, "bob")
    await bob.groups.set_room_version(room, Namespace.LEGACY)
    await carol.join(room, "carol")
    await carol.refresh(alice.jid)
    await carol.refresh(bob.jid)

    report = await alice.groups.send_to_room(room, "hello from alice")
    assert report.omemo is Namespace.LEGACY
    assert report.skipped == ()
    got = (await bob.next_room_message(room)).message
    assert (got.body, got.sender, got.nick, got.outgoing) == (
        "hello from alice",
        alice.jid,
        "alice",
        False,
    )
    heard = await carol.next_room_message()
    assert heard.text == "hello from alice", carol.errors

    await bob.groups.send_to_room(room, "hello from bob")
    assert (await alice.next_room_message(room)).message.body == "hello from bob"
    assert (await carol.next_room_message()).text == "hello from bob", carol.errors

    await carol.send_to_room(room, [alice.jid, bob.jid], "hello from carol")
    for member in (alice, bob):
        message = (await member.next_room_message(room)).message
        assert (message.body, message.sender, message.nick) == (
            "hello from carol",
            carol_jid,
            "carol",
        )

    await asyncio.sleep(0.5)  # the reflections of our own sends have arrived
    await alice.groups.wait_idle()
    assert await _archived(alice, room, "hello from alice") == 1
    assert await _archived(bob, room, "hello from bob") == 1
    assert await _archived(alice, room, "hello from bob") == 1


async def test_offline_member_reads_through_the_room_archive_omemo2(
    make_member: MemberFactory,
    room_jid: RoomJid,
) -> None:
    """A member who was offline gets the message from MUC MAM when joining; between our own
    accounts the room speaks OMEMO 2, whose SCE `to` is the room."""
    alice, bob = await make_member(), await make_member()
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid])
    report = await alice.groups.send_to_room(room, "while you were away")
    assert report.omemo is Namespace.V2
    info = await bob.groups.join_room(room, "bob")
    assert info.omemo_allowed
    got = (await bob.next_room_message(room)).message
    assert (got.body, got.sender, got.omemo) == ("while you were away", alice.jid, Namespace.V2)
    # live afterwards, and the archive copy of the same message is not archived twice
    await alice.groups.send_to_room(room, "now live")
    assert (await bob.next_room_message(room)).message.body == "now live"
    await bob.groups.catch_up(room)
    assert await _archived(bob, room, "while you were away") == 1
    assert await _archived(bob, room, "now live") == 1


async def test_anonymous_room_refuses_omemo_with_its_reason(
    make_member: MemberFactory,
    room_jid: RoomJid,
) -> None:
    """A semi-anonymous room never gets OMEMO; plaintext only by explicit choice."""
    alice = await make_member()
    room = room_jid()
    info = await alice.groups.create_room(
        room,
        "alice",
        [],
        config={"muc#roomconfig_whois": "moderators", "muc#roomconfig_membersonly": "1"},
    )
    assert not info.omemo_allowed
    assert info.omemo_refusal == REFUSE_ANONYMOUS
    with pytest.raises(SendFailed) as failed:
        await alice.groups.send_to_room(room, "secret")
    assert "not non-anonymous" in failed.value.reason
    assert not any("secret" in stanza for stanza in alice.peer.sent)
    report = await alice.groups.send_to_room(room, "in the clear", allow_plaintext=True)
    assert report.omemo is None
    await asyncio.sleep(0.3)  # slixmpp's send queue runs the outgoing filters
    assert any("in the clear" in stanza for stanza in alice.peer.sent)
    assert not any("secret" in stanza for stanza in alice.peer.sent)


async def test_member_without_keys_is_skipped_only_after_the_choice(
    make_member: MemberFactory,
    room_jid: RoomJid,
    prosody,  # type: ignore[no-untyped-def]
) -> None:
    """A member with no OMEMO device blocks the send until the user chooses "everyone with
    keys"; the choice is remembered and the skipped member is listed every time."""
    alice, bob = await make_member(), await make_member()
    dave_jid, _ = prosody.create_account()  # never logs in: no device list
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid, dave_jid])
    await bob.groups.join_room(room, "bob")
    sent_before = len(alice.peer.sent)
    with pytest.raises(SendFailed) as failed:
        await alice.groups.send_to_room(room, "not yet")
    assert dave_jid in failed.value.reason
    assert any(device.bare_jid == dave_jid for device in failed.value.report.skipped)
    assert not any(
        "<message" in stanza and "groupchat" in stanza for stanza in alice.peer.sent[sent_before:]
    )
    report = await alice.groups.send_to_room(room, "to everyone with keys", allow_partial=True)
    assert [d.bare_jid for d in report.skipped if d.device_id is None] == [dave_jid]
    assert (await bob.next_room_message(room)).message.body == "to everyone with keys"
    again = await alice.groups.send_to_room(room, "remembered")
    assert [d.bare_jid for d in again.skipped if d.device_id is None] == [dave_jid]
    assert (await bob.next_room_message(room)).message.body == "remembered"


async def test_readiness_matches_the_real_state(
    make_member: MemberFactory,
    room_jid: RoomJid,
    prosody,  # type: ignore[no-untyped-def]
) -> None:
    """Readiness per member: keys, trusted/undecided/distrusted counts, last error."""
    alice, bob = await make_member(), await make_member()
    dave_jid, _ = prosody.create_account()
    room = room_jid()
    info = await alice.groups.create_room(room, "alice", [bob.jid, dave_jid])
    rows = {row.bare_jid: row for row in info.members}
    assert set(rows) == {bob.jid, dave_jid}
    bob_row, dave_row = rows[bob.jid], rows[dave_jid]
    assert (bob_row.has_keys, bob_row.trusted, bob_row.undecided, bob_row.distrusted) == (
        True,
        1,
        0,
        0,
    )
    assert bob_row.last_error is None
    assert (dave_row.has_keys, dave_row.trusted) == (False, 0)
    assert dave_row.last_error == "publishes no OMEMO device"
    await alice.peer.service.set_trust(bob.jid, bob.peer.service.device_id, TrustLevel.DISTRUSTED)
    rows = {row.bare_jid: row for row in (await alice.groups.room_info(room)).members}
    assert (rows[bob.jid].trusted, rows[bob.jid].distrusted) == (0, 1)
    await bob.groups.join_room(room, "bob")
    rows = {row.bare_jid: row for row in (await alice.groups.room_info(room)).members}
    assert rows[bob.jid].nick == "bob"


async def test_a_member_added_later_gets_the_next_message_and_bookmarks_follow(
    make_member: MemberFactory,
    room_jid: RoomJid,
) -> None:
    """Affiliation changes are followed: a member granted after the room was made receives
    the next message without anyone rejoining. Joining bookmarks the room (autojoin),
    leaving drops the bookmark."""
    alice, bob, erin = await make_member(), await make_member(), await make_member()
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid])
    await bob.groups.join_room(room, "bob")
    bookmarks = await bob.groups._rooms.bookmarks()
    assert [(b.room, b.nick, b.autojoin) for b in bookmarks] == [(room, "bob", True)]
    await alice.groups._rooms.grant_membership(room, erin.jid)
    await erin.groups.join_room(room, "erin")
    await alice.groups.send_to_room(room, "welcome erin")
    assert (await erin.next_room_message(room)).message.body == "welcome erin"
    assert (await bob.next_room_message(room)).message.body == "welcome erin"
    await bob.groups.leave_room(room)
    assert await bob.groups._rooms.bookmarks() == []


async def test_undecided_devices_get_no_keys_and_readiness_says_so(
    make_member: MemberFactory,
    room_jid: RoomJid,
) -> None:
    """With manual trust, a member's new device is undecided: readiness counts it, the send
    is refused (nothing leaves), and trusting it by hand lets the next send through."""
    alice = await make_member(settings=Settings(trust_mode="manual"))
    bob = await make_member()
    room = room_jid()
    info = await alice.groups.create_room(room, "alice", [bob.jid])
    (row,) = info.members
    assert (row.bare_jid, row.has_keys, row.trusted, row.undecided, row.distrusted) == (
        bob.jid,
        True,
        0,
        1,
        0,
    )  # keys published, none trusted yet
    await bob.groups.join_room(room, "bob")
    with pytest.raises(SendFailed) as failed:
        await alice.groups.send_to_room(room, "not for undecided devices")
    assert any("undecided" in device.reason for device in failed.value.report.skipped)
    (row,) = (await alice.groups.room_info(room)).members
    assert row.last_error is not None
    assert "undecided" in row.last_error
    await alice.peer.service.set_trust(bob.jid, bob.peer.service.device_id, TrustLevel.VERIFIED)
    await alice.groups.send_to_room(room, "now verified")
    got = (await bob.next_room_message(room)).message
    assert got.body == "now verified"
    (row,) = (await alice.groups.room_info(room)).members
    assert (row.has_keys, row.trusted, row.undecided, row.last_error) == (True, 1, 0, None)


async def test_our_other_device_reads_our_message_and_the_sender_archives_it_once(
    make_member: MemberFactory,
    room_jid: RoomJid,
) -> None:
    """Our message is encrypted for our other devices too: the second device in the room
    archives it as outgoing; the sending device recognises its reflection by origin-id."""
    alice, bob = await make_member(), await make_member()
    alice2 = await make_member((alice.jid, alice.peer.password))
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid])
    await alice2.groups.join_room(room, "alice-laptop")
    await alice.peer.service.refresh_device_list(alice.jid)
    await alice.groups.send_to_room(room, "from my phone")
    got = (await alice2.next_room_message(room)).message
    assert (got.body, got.sender, got.outgoing, got.nick) == (
        "from my phone",
        alice.jid,
        True,
        "alice",
    )
    await asyncio.sleep(0.5)
    await alice.groups.wait_idle()
    assert await _archived(alice, room, "from my phone") == 1
    assert await _archived(alice2, room, "from my phone") == 1


async def test_a_crash_after_the_inbox_write_loses_nothing(
    make_member: MemberFactory,
    room_jid: RoomJid,
) -> None:
    """A groupchat stanza is kept in the inbox (still ciphertext) before it is processed;
    after a crash it is decrypted from there on the next start, once."""
    alice, bob = await make_member(), await make_member()
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid])
    await bob.groups.join_room(room, "bob")
    real_process = bob.groups.process
    crashed = asyncio.Event()

    async def crash(inbox_id: int, inbound: object, *, attempts: int) -> None:
        crashed.set()
        raise RuntimeError("simulated crash after the inbox write")

    bob.groups.process = crash  # type: ignore[method-assign]
    await alice.groups.send_to_room(room, "survives a crash")
    await asyncio.wait_for(crashed.wait(), 15)
    await bob.groups.wait_idle()
    assert await bob.peer.service.runner.read(lambda uow: len(uow.inbox.pending(10))) == 1
    bob.groups.process = real_process  # type: ignore[method-assign]
    assert await bob.groups.drain_inbox() == 1
    assert (await bob.next_room_message(room)).message.body == "survives a crash"
    assert await bob.peer.service.runner.read(lambda uow: len(uow.inbox.pending(10))) == 0
    assert await _archived(bob, room, "survives a crash") == 1


async def test_subject_affiliations_and_rejoin_after_a_new_stream(
    make_member: MemberFactory,
    room_jid: RoomJid,
) -> None:
    """The subject and the members' affiliations are known; after a new stream the rooms we
    were in are joined again and what we missed comes from the room archive."""
    alice, bob = await make_member(), await make_member()
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid])
    alice.groups.set_subject(room, "plans for friday")
    await asyncio.sleep(0.3)
    info = await bob.groups.join_room(room, "bob")
    assert info.subject == "plans for friday"
    assert bob.groups.members(room) == {alice.jid: "owner"}
    assert alice.groups.members(room) == {bob.jid: "member"}
    bob.groups._rooms.leave(room)
    await asyncio.sleep(0.2)
    await alice.groups.send_to_room(room, "missed it")
    await bob.groups.reconnected()
    assert (await bob.next_room_message(room)).message.body == "missed it"
    assert bob.groups.joined_rooms() == [room]


async def test_plaintext_in_an_encrypted_room_is_flagged(
    make_member: MemberFactory,
    room_jid: RoomJid,
) -> None:
    """An unencrypted message in an OMEMO room is archived with a warning and raises a
    security event; the room archive position follows live messages."""
    alice, bob = await make_member(), await make_member()
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid])
    await bob.groups.join_room(room, "bob")
    bob.groups._rooms.send_plaintext(room, "oops, in the clear", "plain-1")
    got = (await alice.next_room_message(room)).message
    assert (got.body, got.omemo, got.sender) == ("oops, in the clear", None, bob.jid)
    events = await alice.peer.service.security_events()
    assert any(
        event.kind is SecurityEventKind.PLAINTEXT_IN_ENCRYPTED_CHAT and event.bare_jid == room
        for event in events
    )
    assert (await alice.groups.prefs(room)).archive_after is not None


async def test_room_rows_for_the_roster(
    make_member: MemberFactory,
    room_jid: RoomJid,
) -> None:
    """Joined rooms appear as roster rows with a badge: blind trust is not "verified", and a
    member whose only device is distrusted (it cannot read the room) is not "verified" either."""
    alice, bob = await make_member(), await make_member()
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid])
    (row,) = await alice.groups.summaries()
    assert (row.jid, row.is_room, row.security) == (room, True, ChatSecurity.SOME_BLIND)
    await alice.peer.service.set_trust(bob.jid, bob.peer.service.device_id, TrustLevel.VERIFIED)
    (row,) = await alice.groups.summaries()
    assert row.security is ChatSecurity.ALL_VERIFIED
    await alice.peer.service.set_trust(bob.jid, bob.peer.service.device_id, TrustLevel.DISTRUSTED)
    (row,) = await alice.groups.summaries()
    assert row.security is ChatSecurity.NO_TRUSTED_DEVICE
