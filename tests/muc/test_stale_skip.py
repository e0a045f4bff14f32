"""A room send names a stale own device as stale (not undecided), as a 1:1 send does."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.muc.conftest import MemberFactory
from tui_omemo.config import Settings
from tui_omemo.model import Namespace
from tui_omemo.store import UnitOfWork

pytestmark = [pytest.mark.prosody]


async def test_a_stale_own_device_is_skipped_as_stale_in_a_room(
    make_member: MemberFactory,
    room_jid: Callable[[], str],
) -> None:
    """Our other device, silent for longer than stale_after_hours, gets no key for a room
    message, and the report says why with the "stale" code and words."""
    alice = await make_member(settings=Settings(stale_after_hours=1))
    alice2 = await make_member((alice.jid, alice.peer.password))
    bob = await make_member()
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid])
    await bob.groups.join_room(room, "bob")
    await alice.peer.service.refresh_device_list(alice.jid)
    old = alice2.peer.service.device_id

    def silent_since_1970(uow: UnitOfWork) -> None:
        for namespace in Namespace:
            uow.devices.touch_message(namespace, alice.jid, old, 1)

    await alice.peer.service.runner.write(silent_since_1970)

    report = await alice.groups.send_to_room(room, "not for the old laptop")

    (row,) = [s for s in report.skipped if s.device_id == old]
    assert (row.bare_jid, row.code, row.reason) == (alice.jid, "stale", "stale own device")
    assert not [s for s in report.skipped if s.code == "undecided" and s.bare_jid == alice.jid]
    assert (await bob.next_room_message(room)).message.body == "not for the old laptop"
