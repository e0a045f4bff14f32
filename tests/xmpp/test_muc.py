"""Group chats: an OMEMO-ready room (members-only, non-anonymous) reveals members' real JIDs,
and encrypted groupchat messages arrive with the room's stanza-id."""

from __future__ import annotations

import asyncio
import secrets
import xml.etree.ElementTree as ET

import pytest

from tests.prosody import ProsodyServer
from tests.xmpp.conftest import Online
from tests.xmpp.test_client import _for
from tests.xmpp.test_translate import v2_encrypted
from tui_omemo.xmpp import muc
from tui_omemo.xmpp.errors import TransportError
from tui_omemo.xmpp.rooms import RoomClient


def test_read_occupant_with_real_jid_and_self_status() -> None:
    presence = ET.fromstring(
        "<presence xmlns='jabber:client' from='room@conference.localhost/alice'>"
        "<x xmlns='http://jabber.org/protocol/muc#user'>"
        "<item jid='Alice@localhost/tui' affiliation='owner' role='moderator'/>"
        "<status code='110'/><status code='100'/></x></presence>"
    )
    occupant = muc.read_occupant(presence)
    assert occupant is not None
    assert (occupant.room, occupant.nick, occupant.real_jid) == (
        "room@conference.localhost",
        "alice",
        "alice@localhost",
    )
    assert occupant.is_self
    assert occupant.available


def test_plain_presence_is_no_occupant() -> None:
    assert (
        muc.read_occupant(ET.fromstring("<presence xmlns='jabber:client' from='a@b/c'/>")) is None
    )


@pytest.mark.prosody
async def test_omemo_room_reveals_members_and_carries_encrypted_messages(
    online: Online, prosody: ProsodyServer
) -> None:
    alice = await online()
    bob = await online()
    alice_rooms, bob_rooms = RoomClient(alice), RoomClient(bob)
    room = f"r{secrets.token_hex(4)}@{prosody.muc_domain}"
    own = await alice_rooms.join(room, "alice", configure_new=muc.OMEMO_ROOM_CONFIG)
    assert muc.STATUS_CREATED in own.status_codes
    await alice_rooms.grant_membership(room, bob.bare_jid)
    await bob_rooms.join(room, "bob")
    for _ in range(50):
        if "bob" in alice_rooms.occupants(room):
            break
        await asyncio.sleep(0.1)
    assert alice_rooms.real_jid(room, "bob") == bob.bare_jid
    assert bob_rooms.real_jid(room, "alice") == alice.bare_jid
    message_id = alice.send_encrypted(
        _for(bob.bare_jid, v2_encrypted()), room, message_type="groupchat"
    )
    received = await bob.next_message(within=10)
    assert received.message_type == "groupchat"
    assert received.sender == f"{room}/alice"
    assert received.encrypted is not None
    assert received.origin_id == message_id
    assert received.stanza_id
    reflected = await alice.next_message(within=10)
    assert reflected.origin_id == message_id


@pytest.mark.prosody
async def test_members_only_room_refuses_strangers(online: Online, prosody: ProsodyServer) -> None:
    alice = await online()
    mallory = await online()
    room = f"r{secrets.token_hex(4)}@{prosody.muc_domain}"
    await RoomClient(alice).join(room, "alice", configure_new=muc.OMEMO_ROOM_CONFIG)
    with pytest.raises(TransportError, match="refused"):
        await RoomClient(mallory).join(room, "mallory", within=10)
