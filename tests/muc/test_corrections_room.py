"""XEP-0308 corrections in a room (issue #17), through the same pipeline as 1:1: a member's
correction of their own message replaces its text for the others, marked edited; a member's
correction of another member's message (the original's real JID is not theirs) is refused
with a security event and shown as a message of its own."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.muc.conftest import MemberFactory
from tests.service.test_corrections import forged_event
from tui_omemo.service.corrections import Correction

pytestmark = [pytest.mark.prosody]


async def test_room_corrections_only_from_the_author(
    make_member: MemberFactory, room_jid: Callable[[], str]
) -> None:
    alice, bob = await make_member(), await make_member()
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid])
    await bob.groups.join_room(room, "bob")
    await alice.groups.send_to_room(room, "lunch at noon")
    original = (await bob.next_room_message(room)).message
    await alice.peer.service.correct_last(room, "lunch at one")
    correction = (await bob.next_room_message(room)).message
    assert (correction.corrects, correction.body) == (original.archive_id, "lunch at one")
    shown = (await bob.peer.service.history(room, None, 10)).messages
    assert [(m.body, m.edited, m.nick) for m in shown] == [("lunch at one", True, "alice")]

    wire_id = await bob.peer.service.runner.read(
        lambda uow: uow.archive.get(original.archive_id).message_id  # type: ignore[union-attr]
    )
    assert wire_id
    await bob.groups.send_to_room(room, "lunch is cancelled", correction=Correction(wire_id, 0))
    assert "written by " + alice.jid in await forged_event(alice.peer)
    mine = (await alice.peer.service.history(room, None, 10)).messages
    assert [(m.body, m.edited) for m in mine] == [
        ("lunch at one", True),
        ("lunch is cancelled", False),
    ]
