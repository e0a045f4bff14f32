"""The outbox in a room (issue #4): a room message written while our stream is down is queued,
and after a fresh session it goes out only once the room is joined again; the other member gets
it exactly once and we see it confirmed. Both OMEMO versions, over the Prosody fixture."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.muc.conftest import MemberFactory
from tests.relay import Gate
from tests.service.conftest import all_delivered, connection_change, cut, pending_count
from tui_omemo.model import Namespace
from tui_omemo.service.ports import LINK_LOST

pytestmark = pytest.mark.prosody


@pytest.mark.parametrize("resume", [True, False], ids=["resumed", "fresh-session"])
@pytest.mark.parametrize("namespace", [Namespace.LEGACY, Namespace.V2])
async def test_a_room_message_written_offline_reaches_the_room_once(
    make_member: MemberFactory, room_jid: Callable[[], str], namespace: Namespace, resume: bool
) -> None:
    gate = Gate()
    alice, bob = await make_member(resume=resume, pause=gate), await make_member()
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid])
    await alice.groups.set_room_version(room, namespace)
    await bob.groups.join_room(room, "bob")
    await alice.groups.send_to_room(room, "before")
    assert (await bob.next_room_message(room)).message.body == "before"
    await alice.peer.service.confirm_sent(20)  # nothing pending before the cut

    cut(alice.peer)
    assert (await connection_change(alice.peer)).detail == LINK_LOST
    report = await alice.groups.send_to_room(room, "written offline")
    assert report.queued
    assert await pending_count(alice.peer) == 1

    gate.open()
    got = (await bob.next_room_message(room)).message
    assert (got.body, got.sender) == ("written offline", alice.jid)
    assert report.archive_id is not None
    await all_delivered(alice.peer, {report.archive_id})
    await alice.groups.send_to_room(room, "after")
    assert (await bob.next_room_message(room)).message.body == "after"  # nothing twice
    page = await bob.peer.service.history(room, None, 50)
    assert [m.body for m in page.messages].count("written offline") == 1
