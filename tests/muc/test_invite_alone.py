"""A room of our own over Prosody: alone in it, the roster row says so (not "new devices");
/invite's service call makes the contact a member (we own the members-only room) and sends a
XEP-0249 direct invitation, after which the contact can join and is a member with keys."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.muc.conftest import TIMEOUT, MemberFactory
from tui_omemo.service.api import ChatSecurity, RosterChanged

pytestmark = [pytest.mark.prosody]


async def test_alone_then_invite_grants_membership_and_invites(
    make_member: MemberFactory,
    room_jid: Callable[[], str],
) -> None:
    """A new room shows ALONE and no members; invite grants membership (the room's row
    changes at once) and the invitation names the room; the invited contact joins the
    members-only room."""
    alice, bob = await make_member(), await make_member()
    room = room_jid()
    info = await alice.peer.service.join_room(room, "alice")
    assert info.members == ()
    row = next(chat for chat in await alice.peer.service.chats() if chat.jid == room)
    assert row.security is ChatSecurity.ALONE

    invited: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    bob.peer.client.add_event_handler(
        "groupchat_direct_invite", lambda msg: invited.done() or invited.set_result(msg)
    )
    alice.peer.drain_events()
    assert await alice.peer.service.invite(room, bob.jid)
    changed = await alice.peer.next_event(RosterChanged)
    assert changed.chat.jid == room
    assert changed.chat.security is not ChatSecurity.ALONE  # Bob is a member with keys now
    async with asyncio.timeout(TIMEOUT):
        message = await invited
    assert str(message["groupchat_invite"]["jid"]) == room
    assert str(message["from"].bare) == alice.jid

    await bob.peer.service.join_room(room, "bob")
    members = (await alice.peer.service.room_info(room)).members
    assert [m.bare_jid for m in members] == [bob.jid]
    row = next(chat for chat in await alice.peer.service.chats() if chat.jid == room)
    assert row.security is not ChatSecurity.ALONE
