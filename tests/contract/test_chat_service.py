"""The `ChatService` contract (DESIGN.md §3.12): what the UI relies on, asserted alike on the
fake the UI tests use and on the real service over Prosody with a real contact.

Each test names the events and return values the app's screens read: a chat shows our message
from `MessageSent` (pending) and clears the mark on `MessageDelivered`; incoming messages come
as `MessageReceived` and count as unread in a `RosterChanged`; trust changes raise a
`SecurityEventRaised` and change who gets keys; settings round-trip; rooms join, send (our
message once, never reflected back), receive and leave; search finds what was sent; the stale
preview never offers this device; a JID outside the roster has a chat of its own.
"""

from __future__ import annotations

import pytest

from tests.contract.conftest import Side
from tui_omemo.events import SecurityEventKind
from tui_omemo.model import TrustLevel
from tui_omemo.service.api import (
    ChatSecurity,
    Delivery,
    MessageDelivered,
    MessageReceived,
    MessageSent,
    MessageTrust,
    RosterChanged,
    SecurityEventRaised,
    SendFailed,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

TRUSTED = (TrustLevel.VERIFIED, TrustLevel.BLINDLY_TRUSTED)


async def bodies(side: Side, peer: str, limit: int = 50) -> list[str]:
    return [m.body for m in (await side.service.history(peer, None, limit)).messages]


async def test_own_send_is_shown_at_once_pending_then_delivered(side: Side) -> None:
    """`send` archives our message and emits `MessageSent` with it, pending, before the
    server confirms it with `MessageDelivered`; history then has it once, sent."""
    text = f"contract own send ({side.name})"
    side.drain()
    report = await side.service.send(side.contact, text)
    assert report.archive_id is not None
    assert report.omemo is not None
    assert not report.queued
    sent = await side.next_event(MessageSent, lambda e: e.message.archive_id == report.archive_id)
    mine = sent.message
    assert (mine.peer, mine.outgoing, mine.sender, mine.body, mine.delivery) == (
        side.contact,
        True,
        side.service.own_jid,
        text,
        Delivery.PENDING,
    )
    assert (mine.trust, mine.omemo, mine.nick, mine.failure) == (
        MessageTrust.VERIFIED,
        report.omemo,
        None,
        None,
    )
    delivered = await side.next_event(
        MessageDelivered,
        lambda e: e.archive_id == report.archive_id and e.delivery is Delivery.SENT,
    )
    assert delivered.peer == side.contact
    page = await side.service.history(side.contact, None, 20)
    # issue 17: the contact's receipt may already have raised it to received (real side)
    [(body, state)] = [
        (m.body, m.delivery) for m in page.messages if m.archive_id == report.archive_id
    ]
    assert body == text
    assert state in {Delivery.SENT, Delivery.RECEIVED}
    assert page.messages[-1].archive_id == report.archive_id
    await side.contact_got(text)


async def test_incoming_message_is_archived_announced_and_unread(side: Side) -> None:
    """The contact's message comes as `MessageReceived` (theirs, decrypted, trusted), is the
    newest in history, counts as unread in a `RosterChanged`, and `mark_read` clears it."""
    text = f"contract incoming ({side.name})"
    side.drain()
    await side.contact_sends(text)
    got = (await side.next_event(MessageReceived, lambda e: e.message.body == text)).message
    assert (got.peer, got.sender, got.outgoing, got.nick, got.failure) == (
        side.contact,
        side.contact,
        False,
        None,
        None,
    )
    assert got.trust in (MessageTrust.VERIFIED, MessageTrust.BLIND)
    assert got.omemo is not None
    assert got.delivery is Delivery.SENT
    row = await side.next_event(RosterChanged, lambda e: e.chat.jid == side.contact)
    assert row.chat.unread >= 1
    page = await side.service.history(side.contact, None, 5)
    assert page.messages[-1].archive_id == got.archive_id
    await side.service.mark_read(side.contact)
    await side.next_event(
        RosterChanged, lambda e: e.chat.jid == side.contact and e.chat.unread == 0
    )


async def test_history_keeps_the_order_of_sending_and_arrival(side: Side) -> None:
    """Ours, theirs, ours: history (and its paging) shows them in that order."""
    first, second, third = (f"contract order {n} ({side.name})" for n in (1, 2, 3))
    side.drain()
    await side.service.send(side.contact, first)
    await side.contact_got(first)
    await side.contact_sends(second)
    await side.next_event(MessageReceived, lambda e: e.message.body == second)
    await side.service.send(side.contact, third)
    assert (await bodies(side, side.contact))[-3:] == [first, second, third]
    newest = await side.service.history(side.contact, None, 1)
    older = await side.service.history(side.contact, newest.messages[0].archive_id, 2)
    assert [m.body for m in older.messages] == [first, second]
    await side.contact_got(third)


async def test_trust_changes_raise_events_and_decide_recipients(side: Side) -> None:
    """Distrusting every trusted device of the contact emits TRUST_CHANGED events (also in
    `security_events`, newest first, with the same time), turns the badge to NO_TRUSTED_DEVICE
    (never "verified"; undecided devices, if any, come first) and stops a send with
    `SendFailed` naming them; verifying them turns it to ALL_VERIFIED and lets the next send
    through."""
    devices = await side.service.devices(side.contact)
    trusted = [d for d in devices if d.active and d.trust in TRUSTED]
    assert trusted
    assert all(len(d.fingerprint.replace(" ", "")) == 64 for d in devices)
    side.drain()
    for device in trusted:
        await side.service.set_trust(side.contact, device.device_id, TrustLevel.DISTRUSTED)
    raised = await side.next_event(
        SecurityEventRaised, lambda e: e.event.device_id == trusted[-1].device_id
    )
    assert (raised.event.kind, raised.event.bare_jid) == (
        SecurityEventKind.TRUST_CHANGED,
        side.contact,
    )
    newest = (await side.service.security_events(5))[0]
    assert (newest.kind, newest.bare_jid, newest.device_id, newest.detail) == (
        raised.event.kind,
        raised.event.bare_jid,
        raised.event.device_id,
        raised.event.detail,
    )
    assert raised.event.occurred_at is not None  # the time it was stored, as read back
    assert raised.event.occurred_at == newest.occurred_at
    now = {d.device_id: d.trust for d in await side.service.devices(side.contact)}
    assert all(now[d.device_id] is TrustLevel.DISTRUSTED for d in trusted)
    undecided = any(d.active and d.trust is TrustLevel.UNDECIDED for d in devices)
    badge = (await side.service.chat_summary(side.contact)).security
    assert badge is (
        ChatSecurity.UNDECIDED_DEVICES if undecided else ChatSecurity.NO_TRUSTED_DEVICE
    )
    with pytest.raises(SendFailed) as failed:
        await side.service.send(side.contact, "to nobody")
    assert failed.value.report.archive_id is None
    skipped = {s.device_id for s in failed.value.report.skipped}
    assert {d.device_id for d in trusted} <= skipped
    assert "to nobody" not in await bodies(side, side.contact)
    for device in trusted:
        await side.service.set_trust(side.contact, device.device_id, TrustLevel.VERIFIED)
    badge = (await side.service.chat_summary(side.contact)).security
    assert badge is (ChatSecurity.UNDECIDED_DEVICES if undecided else ChatSecurity.ALL_VERIFIED)
    text = f"contract verified again ({side.name})"
    report = await side.service.send(side.contact, text)
    assert report.archive_id is not None
    await side.contact_got(text)


async def test_settings_round_trip_and_refusal(side: Side) -> None:
    """`update_setting` returns what `settings` then reads; a bad value raises ValueError and
    changes nothing."""
    before = await side.service.settings()
    manual = await side.service.update_setting("trust_mode", "manual")
    assert manual.trust_mode == "manual"
    assert await side.service.settings() == manual
    for key, value in (
        ("trust_mode", "sometimes"),
        ("stale_after_hours", "soon"),
        ("no_such_option", "on"),
    ):
        with pytest.raises(ValueError):
            await side.service.update_setting(key, value)
    assert await side.service.settings() == manual
    assert await side.service.update_setting("trust_mode", before.trust_mode) == before


async def test_a_new_room_is_made_for_omemo_and_empty(side: Side) -> None:
    """Joining a room nobody made yet creates it configured for OMEMO: allowed, no members,
    its roster row an encrypted room; a send finds nobody to encrypt for and archives nothing.
    """
    room = side.room_jid()
    info = await side.service.join_room(room, "alice")
    assert (info.jid, info.nick, info.omemo_allowed, info.omemo_refusal, info.members) == (
        room,
        "alice",
        True,
        None,
        (),
    )
    row = next(c for c in await side.service.chats() if c.jid == room)
    assert row.is_room
    assert row.omemo is not None
    with pytest.raises(SendFailed):
        await side.service.send_to_room(room, "to nobody")
    assert await bodies(side, room) == []
    await side.service.leave_room(room)


async def test_room_join_send_receive_leave(side: Side) -> None:
    """In an OMEMO room with the contact: its roster row is encrypted (no plaintext choice
    asked), the contact is a member with keys; our message shows at once (pending, with our
    nick), is delivered and decrypted, archived once (its reflection is no new message); the
    contact's message arrives with nick and sender; leaving takes the room out of `chats`
    and `room_info`."""
    room = await side.make_room()
    info = await side.service.join_room(room, "alice")
    assert (info.jid, info.nick, info.omemo_allowed) == (room, "alice", True)
    assert [(m.bare_jid, m.has_keys) for m in info.members] == [(side.contact, True)]
    row = next(c for c in await side.service.chats() if c.jid == room)
    assert row.is_room
    assert row.omemo is not None
    assert row.security is not ChatSecurity.NO_OMEMO
    await side.contact_learns_room(room)
    side.drain()
    text = f"contract room hello ({side.name})"
    report = await side.service.send_to_room(room, text)
    assert report.archive_id is not None
    assert report.omemo is not None
    sent = (
        await side.next_event(MessageSent, lambda e: e.message.archive_id == report.archive_id)
    ).message
    assert (sent.peer, sent.outgoing, sent.nick, sent.body, sent.delivery) == (
        room,
        True,
        "alice",
        text,
        Delivery.PENDING,
    )
    await side.next_event(
        MessageDelivered, lambda e: e.archive_id == report.archive_id and e.peer == room
    )
    await side.contact_got_in_room(room, text)
    answer = f"contract room answer ({side.name})"
    await side.contact_says_in_room(room, answer)
    got = (await side.next_event(MessageReceived, lambda e: e.message.body == answer)).message
    assert (got.peer, got.nick, got.sender, got.outgoing) == (room, "bob", side.contact, False)
    assert got.omemo is not None
    later = await side.quiet(0.5)
    assert not [e for e in later if isinstance(e, MessageReceived) and e.message.body == text]
    assert (await bodies(side, room)).count(text) == 1
    await side.service.leave_room(room)
    assert all(c.jid != room for c in await side.service.chats())
    with pytest.raises(KeyError):
        await side.service.room_info(room)


async def test_search_finds_what_was_sent(side: Side) -> None:
    """A word of a sent message finds it (with the chat filter too); another chat's filter
    finds nothing."""
    report = await side.service.send(side.contact, f"the contract zeppelin ({side.name})")
    hits = await side.service.search("zeppelin")
    assert report.archive_id in {hit.message.archive_id for hit in hits}
    hit = next(h for h in hits if h.message.archive_id == report.archive_id)
    assert "zeppelin" in hit.message.body
    assert "zeppelin" in hit.snippet
    assert await side.service.search("zeppelin", side.contact)
    assert list(await side.service.search("zeppelin", side.stranger)) == []
    await side.contact_got(hit.message.body)


async def test_stale_preview_and_removal_never_touch_this_device(side: Side) -> None:
    """Our own devices list this device (verified, active); the stale preview offers only
    other own devices, and asking to remove this one changes nothing."""
    own = side.service.own_jid
    this = [d for d in await side.service.devices(own) if d.this_device]
    assert len(this) == 1
    assert (this[0].own, this[0].active, this[0].trust) == (True, True, TrustLevel.VERIFIED)
    stale = await side.service.stale_own_devices()
    assert all(d.own and not d.this_device and d.bare_jid == own for d in stale)
    await side.service.remove_own_devices([this[0].device_id])
    again = [d for d in await side.service.devices(own) if d.this_device]
    assert [(d.device_id, d.active) for d in again] == [(this[0].device_id, True)]
    uri = await side.service.own_trust_uri()
    assert uri.startswith(f"xmpp:{own}?")
    assert f"omemo-sid-{this[0].device_id}=" in uri
    preview = await side.service.preview_trust_uri(uri)
    assert preview.bare_jid == own
    with pytest.raises(ValueError):
        await side.service.preview_trust_uri("https://example.org/not-a-trust-uri")


async def test_a_jid_outside_the_roster_has_a_chat(side: Side) -> None:
    """The contact is in `chats` (in_roster); a JID outside it is not, but `chat_summary`
    describes it (not in the roster, no OMEMO), and a send to it without the plaintext choice
    fails and archives nothing."""
    rows = {c.jid: c for c in await side.service.chats()}
    assert rows[side.contact].in_roster
    assert side.stranger not in rows
    contact = await side.service.chat_summary(side.contact)
    assert (contact.jid, contact.in_roster, contact.is_room) == (side.contact, True, False)
    assert contact.omemo is not None
    stranger = await side.service.chat_summary(side.stranger)
    assert (stranger.jid, stranger.in_roster, stranger.omemo, stranger.security) == (
        side.stranger,
        False,
        None,
        ChatSecurity.NO_OMEMO,
    )
    with pytest.raises(SendFailed) as failed:
        await side.service.send(side.stranger, "plaintext? no")
    assert failed.value.report.archive_id is None
    assert await bodies(side, side.stranger) == []
