"""Rooms only where they matter, through the real command line: Alice has an autojoin
bookmark for a room in which Bob sits (a plain slixmpp client). `tui-omemo send bob …` does
not enter the room — Bob gets Alice's message and, before it, no presence of Alice in the
room — while `tui-omemo listen` does rejoin it (Bob sees Alice's presence there).

Prosody handles one stream's stanzas in order and the MUC component broadcasts a join while
handling it, so a join sent before the message would reach Bob before the message does."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import slixmpp
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

from tests.cli.conftest import Account, CliRunner, subscribe_both
from tests.prosody import ProsodyServer

pytestmark = [pytest.mark.prosody, pytest.mark.slow]

NewAccount = Callable[[str], Awaitable[Account]]
WAIT = 60.0


class RoomWatcher:
    """Bob's plain client in the room: what arrives, in order ("presence <nick>" for room
    presences, "message <bare jid>" for 1:1 messages)."""

    def __init__(self, client: slixmpp.ClientXMPP, room: str) -> None:
        self.client = client
        self.room = room
        self.seen: asyncio.Queue[str] = asyncio.Queue()
        client.register_handler(Callback("watch presences", StanzaPath("presence"), self._presence))
        # every 1:1 message, also one without a <body> (slixmpp's "message" event needs one)
        client.register_handler(
            Callback("watch chats", StanzaPath("message@type=chat"), self._message)
        )

    @classmethod
    async def start(cls, server: ProsodyServer, account: Account, room: str) -> RoomWatcher:
        client = slixmpp.ClientXMPP(f"{account.jid}/watcher", account.password)
        client.enable_direct_tls = False
        client.enable_starttls = False
        client.enable_plaintext = True
        client.plugin["feature_mechanisms"].unencrypted_scram = True
        client.register_plugin("xep_0045")
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        client.add_event_handler("session_start", lambda _e: _settle(started))
        client.connect(server.host, server.port)
        await asyncio.wait_for(started, WAIT)
        client.send_presence()  # available: messages to Bob's bare JID reach this resource
        watcher = cls(client, room)
        plugins: Any = client.plugin
        await plugins["xep_0045"].join_muc_wait(
            slixmpp.JID(room), "watcher", maxstanzas=0, timeout=WAIT
        )
        return watcher

    def _presence(self, presence: Any) -> None:
        if presence["from"].bare == self.room and presence["from"].resource != "watcher":
            self.seen.put_nowait(f"presence {presence['from'].resource}")

    def _message(self, message: Any) -> None:
        self.seen.put_nowait(f"message {message['from'].bare}")

    async def next(self) -> str:
        return await asyncio.wait_for(self.seen.get(), WAIT)

    async def stop(self) -> None:
        self.client.disconnect()
        await asyncio.wait_for(self.client.disconnected, 10)


async def test_send_does_not_enter_bookmarked_rooms_but_listen_does(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount
) -> None:
    alice, bob = await new_account("alice"), await new_account("bob")
    await subscribe_both(prosody, alice, bob)
    room = f"bookmarked@{prosody.muc_domain}"
    created = await runner.run(
        alice, "muc", "join", room, "--nick", "alice", "--member", bob.jid
    )  # also bookmarks it (autojoin)
    assert created.code == 0, created.err
    keys = await runner.run(bob, "listen", "--timeout", "3")  # Bob's OMEMO keys
    assert keys.code == 0, keys.err
    watcher = await RoomWatcher.start(prosody, bob, room)
    try:
        sent = await runner.run(alice, "send", bob.jid, "no room needed")
        assert sent.code == 0, sent.err
        assert await watcher.next() == f"message {alice.jid}"  # no "presence alice" first

        listened = await runner.run(alice, "listen", "--timeout", "2")
        assert listened.code == 0, listened.err
        assert await watcher.next() == "presence alice"  # the rejoin (the control)
    finally:
        await watcher.stop()


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
