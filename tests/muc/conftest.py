"""Fixtures for the group-chat tests: our service with its `GroupChats`, and a slixmpp-omemo
peer that can sit in a room.

`make_member()` starts one of our accounts (through `tests/service/conftest.py`'s `make_peer`);
`OmemoChatService` builds and starts the group component itself. `MucPeer` extends the
interop peer of `tests/cli/omemo_peer.py` with XEP-0045: it joins a room through slixmpp's own
plugin (which maps occupants to real JIDs for slixmpp-omemo) and decrypts groupchat messages;
it reads the stanza-id the room stamped on each (XEP-0359), its own messages' from their
reflections (`reflected`), which is what a reply in a room names (XEP-0461).
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import slixmpp

from tests.cli.conftest import cli_env, new_account, runner
from tests.cli.omemo_peer import OmemoPeer, PeerMessage, reply_elements
from tests.prosody import ProsodyServer
from tests.service.conftest import Peer, PeerFactory, make_peer
from tui_omemo.service.api import MessageReceived
from tui_omemo.service.muc import GroupChats

__all__ = ["cli_env", "make_peer", "new_account", "runner"]

TIMEOUT = 20.0
STANZA_ID = "{urn:xmpp:sid:0}stanza-id"


@dataclass
class Member:
    """One of our accounts with its group component."""

    peer: Peer
    groups: GroupChats

    @property
    def jid(self) -> str:
        return self.peer.jid

    async def next_room_message(self, room: str) -> MessageReceived:
        """The next MessageReceived of `room` (other events are skipped)."""
        async with asyncio.timeout(TIMEOUT):
            while True:
                event = await self.peer.next_message()
                if event.message.peer == room:
                    return event


MemberFactory = Callable[..., Awaitable[Member]]


@pytest.fixture
def make_member(make_peer: PeerFactory) -> MemberFactory:
    """Start one of our accounts; its service built and started `GroupChats` (stopped with
    the service, when its peer stops)."""

    async def factory(account: tuple[str, str] | None = None, **kwargs: Any) -> Member:
        peer = await make_peer(account, **kwargs)
        assert peer.service.groups is not None, "an XmppClient transport gets group chats"
        return Member(peer, peer.service.groups)

    return factory


@pytest.fixture
def room_jid(prosody: ProsodyServer) -> Callable[[], str]:
    """A fresh room JID on the MUC component."""
    return lambda: f"room-{secrets.token_hex(4)}@{prosody.muc_domain}"


class MucPeer(OmemoPeer):
    """The slixmpp-omemo peer, able to join rooms and decrypt groupchat messages."""

    def __init__(self, client: slixmpp.ClientXMPP, *, legacy_only: bool = False) -> None:
        super().__init__(client, legacy_only=legacy_only)
        self.room_messages: asyncio.Queue[PeerMessage] = asyncio.Queue()
        self.reflected: asyncio.Queue[str | None] = asyncio.Queue()
        """The room's stanza-id of each of our messages, from its reflection."""
        self.nicks: dict[str, str] = {}
        client.register_plugin("xep_0045")
        client.add_event_handler("groupchat_message", self._on_groupchat)

    async def join(self, room: str, nick: str) -> None:
        """Join `room` (we must be a member already) and learn its occupants."""
        self.nicks[slixmpp.JID(room).bare] = nick
        await self.client.plugin["xep_0045"].join_muc_wait(
            slixmpp.JID(room), nick, maxstanzas=0, timeout=TIMEOUT
        )

    async def send_to_room(
        self, room: str, members: list[str], text: str, reply: tuple[str, str] | None = None
    ) -> None:
        """Encrypt `text` for `members` (slixmpp-omemo picks 0.3) and send it to `room`; a
        reply to `reply` (the room's stanza-id, quoted text) gets slixmpp's `<reply>` and
        `<fallback>` back on the encrypted stanza, outside, as `OmemoPeer.send` does."""
        message = self.client.make_message(mto=room, mbody=text, mtype="groupchat")
        extra: tuple[ET.Element, ...] = ()
        if reply is not None:
            quoted = self.quoting(room, text, reply)
            message["body"], extra = quoted["body"], reply_elements(quoted)
        encrypted, errors = await self.plugin.encrypt_message(
            message, {slixmpp.JID(jid) for jid in members}
        )
        if errors:
            self.errors.extend(repr(error) for error in errors)
        assert encrypted is not None, "slixmpp-omemo produced nothing to send"
        encrypted.xml.extend(extra)
        encrypted.send()

    async def next_room_message(self, wait: float = TIMEOUT) -> PeerMessage:
        """The next groupchat message this peer decrypted."""
        return await asyncio.wait_for(self.room_messages.get(), wait)

    async def _on_groupchat(self, stanza: slixmpp.Message) -> None:
        namespaces = self.plugin.is_encrypted(stanza)
        stamped = [
            found.get("id")
            for found in stanza.xml.findall(STANZA_ID)
            if found.get("by") == stanza["from"].bare
        ]
        stanza_id = stamped[0] if stamped else None
        if self.nicks.get(stanza["from"].bare) == stanza["from"].resource:
            await self.reflected.put(stanza_id)  # our own message, as the room stamped it
            return
        if not namespaces:
            return
        decrypted = await self.decrypt(stanza, namespaces)
        if decrypted is not None and decrypted.text:
            await self.room_messages.put(dataclasses.replace(decrypted, stanza_id=stanza_id))


@pytest.fixture
async def make_muc_peer(prosody: ProsodyServer) -> AsyncIterator[Callable[[], Awaitable[MucPeer]]]:
    """Start slixmpp-omemo peers on fresh accounts; all are stopped afterwards."""
    peers: list[MucPeer] = []

    async def factory() -> MucPeer:
        jid, password = prosody.create_account()
        peer = await MucPeer.start(prosody, jid, password)
        assert isinstance(peer, MucPeer)
        peers.append(peer)
        return peer

    yield factory
    for peer in peers:
        await peer.stop()
