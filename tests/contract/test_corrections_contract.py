"""The corrections part of the `ChatService` contract (issue #17, XEP-0308), alike on the fake
the UI tests use and on the real service over Prosody with a real contact: our correction comes
as a `MessageSent` whose `corrects` names the message it corrects (the log updates that
message, it appends nothing), the contact's as a `MessageReceived` the same way; history then
shows the corrected message once, with the new text, `edited`; `message_versions` lists the
texts oldest first; with nothing of ours to correct, `SendFailed`. Replies in a room
(XEP-0461): ours comes as a `MessageSent` whose `reply_to` is the `message_id` of the
member's message it answers (the room's stanza-id on the real side), with our nick, and
again once the room stamped its own stanza-id on it (`message_id`). A reply or a correction in
a room with a member without keys is refused as a message is (`partial_possible`) until the
user chooses "everyone with keys" (`allow_partial`), which the room then remembers."""

from __future__ import annotations

import pytest

from tests.contract.conftest import Side
from tui_omemo.service.api import MessageReceived, MessageSent, SendFailed

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_our_correction_and_the_contacts_update_the_message_in_place(side: Side) -> None:
    first, fixed = f"contract typo ({side.name})", f"contract fixed ({side.name})"
    side.drain()
    report = await side.service.send(side.contact, first)
    assert report.archive_id is not None
    await side.contact_got(first)
    correction = await side.service.correct_last(side.contact, fixed)
    sent = await side.next_event(
        MessageSent, lambda e: e.message.archive_id == correction.archive_id
    )
    assert (sent.message.corrects, sent.message.body) == (report.archive_id, fixed)
    await side.contact_got(fixed)
    page = await side.service.history(side.contact, None, 50)
    shown = [(m.body, m.edited) for m in page.messages if m.archive_id == report.archive_id]
    assert shown == [(fixed, True)]
    assert not [m for m in page.messages if m.archive_id == correction.archive_id]
    assert await side.service.message_versions(report.archive_id) == [first, fixed]

    theirs, corrected = f"contract their typo ({side.name})", f"contract theirs ({side.name})"
    await side.contact_sends(theirs)
    got = (await side.next_event(MessageReceived, lambda e: e.message.body == theirs)).message
    if side.peer is not None:
        await side.peer.service.correct_last(side.service.own_jid, corrected)
    else:
        assert side.fake is not None
        side.fake.receive(side.contact, corrected, corrects=got.archive_id)
    fix = await side.next_event(MessageReceived, lambda e: e.message.body == corrected)
    assert fix.message.corrects == got.archive_id
    page = await side.service.history(side.contact, None, 50)
    assert [(m.body, m.edited) for m in page.messages if m.archive_id == got.archive_id] == [
        (corrected, True)
    ]


async def test_nothing_to_correct_fails(side: Side) -> None:
    with pytest.raises(SendFailed):
        await side.service.correct_last(side.stranger, "no earlier message")


async def test_a_file_as_our_last_message_is_not_corrected(side: Side) -> None:
    """Our last message is a file (its body the `aesgcm://` link): a correction would replace
    the file with text, so none is sent, and the message the user sent before it is not
    corrected instead (XEP-0308 corrects the last message only)."""
    before = f"contract before the file ({side.name})"
    await side.service.send(side.contact, before)
    link = "aesgcm://upload.example/s/photo.jpg#" + "ab" * 44
    await side.service.send(side.contact, link)
    with pytest.raises(SendFailed, match="is a file"):
        await side.service.correct_last(side.contact, "not a file")
    page = await side.service.history(side.contact, None, 50)
    assert [m.body for m in page.messages if m.body == before]  # left as it was
    assert not [m for m in page.messages if m.edited and m.body == "not a file"]


async def test_our_reply_in_a_room_names_the_members_message(side: Side) -> None:
    room = await side.make_room()
    await side.service.join_room(room, "alice")
    await side.contact_learns_room(room)
    asked, answer = f"contract lunch? ({side.name})", f"contract noon ({side.name})"
    await side.contact_says_in_room(room, asked)
    got = (await side.next_event(MessageReceived, lambda e: e.message.body == asked)).message
    assert got.message_id is not None
    report = await side.service.reply(room, got.archive_id, answer)
    sent = await side.next_event(MessageSent, lambda e: e.message.archive_id == report.archive_id)
    assert (sent.message.body, sent.message.reply_to, sent.message.nick) == (
        answer,
        got.message_id,
        "alice",
    )
    assert sent.message.message_id is None  # archived before it left: the room stamps it
    stamped = await side.next_event(
        MessageSent, lambda e: e.message.archive_id == report.archive_id
    )
    assert stamped.message.message_id is not None
    await side.contact_got_in_room(room, answer)
    await side.service.leave_room(room)


async def test_a_room_reply_and_correction_take_the_partial_choice(side: Side) -> None:
    room = await side.make_room(stranger=True)
    await side.service.join_room(room, "alice")
    await side.contact_learns_room(room)
    asked, answer = f"contract tea? ({side.name})", f"contract at five ({side.name})"
    await side.contact_says_in_room(room, asked)
    got = (await side.next_event(MessageReceived, lambda e: e.message.body == asked)).message
    with pytest.raises(SendFailed) as refused:
        await side.service.reply(room, got.archive_id, answer)
    assert refused.value.partial_possible
    assert [d.bare_jid for d in refused.value.report.skipped if d.device_id is None] == [
        side.stranger
    ]
    report = await side.service.reply(room, got.archive_id, answer, allow_partial=True)
    sent = await side.next_event(MessageSent, lambda e: e.message.archive_id == report.archive_id)
    assert (sent.message.body, sent.message.reply_to) == (answer, got.message_id)
    await side.contact_got_in_room(room, answer)

    await side.service.set_partial_choice(room, False)
    fixed = f"contract at six ({side.name})"
    with pytest.raises(SendFailed) as again:
        await side.service.correct_last(room, fixed)
    assert again.value.partial_possible
    correction = await side.service.correct_last(room, fixed, allow_partial=True)
    edit = await side.next_event(
        MessageSent, lambda e: e.message.archive_id == correction.archive_id
    )
    assert (edit.message.corrects, edit.message.body) == (report.archive_id, fixed)
    await side.contact_got_in_room(room, fixed)
    await side.service.send_to_room(room, f"contract remembered ({side.name})")
    await side.service.leave_room(room)
