"""`SendFailed.partial_possible`: whether skipping members without keys could let a room send
through. The group screen offers "send to everyone with keys" only when it is True."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.muc.conftest import MemberFactory
from tests.prosody import ProsodyServer
from tui_omemo.service.api import SendFailed

pytestmark = [pytest.mark.prosody]

RoomJid = Callable[[], str]


async def test_some_members_with_keys_make_a_partial_send_possible(
    make_member: MemberFactory, room_jid: RoomJid, prosody: ProsodyServer
) -> None:
    """Bob has keys, Dave has none: the refused send says skipping Dave would reach Bob."""
    alice, bob = await make_member(), await make_member()
    dave_jid, _ = prosody.create_account()  # never logs in: no device list
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid, dave_jid])
    await bob.groups.join_room(room, "bob")
    with pytest.raises(SendFailed) as failed:
        await alice.groups.send_to_room(room, "not yet")
    assert failed.value.partial_possible
    assert [d.bare_jid for d in failed.value.report.skipped if d.device_id is None] == [dave_jid]


async def test_nobody_with_keys_makes_a_partial_send_impossible(
    make_member: MemberFactory, room_jid: RoomJid, prosody: ProsodyServer
) -> None:
    """No member has a device: the send fails without offering to skip anyone, and choosing
    "everyone with keys" does not change that."""
    alice = await make_member()
    dave_jid, _ = prosody.create_account()
    erin_jid, _ = prosody.create_account()
    room = room_jid()
    await alice.groups.create_room(room, "alice", [dave_jid, erin_jid])
    with pytest.raises(SendFailed) as failed:
        await alice.groups.send_to_room(room, "anyone?")
    assert not failed.value.partial_possible
    skipped = {d.bare_jid for d in failed.value.report.skipped if d.device_id is None}
    assert skipped == {dave_jid, erin_jid}
    with pytest.raises(SendFailed) as again:
        await alice.groups.send_to_room(room, "anyone?", allow_partial=True)
    assert not again.value.partial_possible
