"""Breaks that used to leave XmppClient silent and offline, or lose or double stanzas
(issue 19): the connection lost between the session start and its announcement, stanzas still
in slixmpp's send queue when the connection dies, and a server that stops answering.
Against the real Prosody; reconnect attempts wait behind a `Gate` where timing matters.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from tests.prosody import ProsodyServer
from tests.relay import Gate, Relay
from tests.xmpp.conftest import Make
from tests.xmpp.test_reconnect import TIMEOUT, Links, cut
from tui_omemo.xmpp import dead_stream
from tui_omemo.xmpp.client import Link, XmppClient
from tui_omemo.xmpp.errors import TransportError

pytestmark = pytest.mark.prosody


def cut_at_next_session_start(client: XmppClient) -> None:
    """Kill the connection of the next session as soon as it starts (before the client
    announced it)."""
    armed = [True]

    def kill(_event: Any) -> None:
        if armed and client.stream.transport is not None:
            armed.clear()
            client.stream.transport.abort()

    client.stream.add_event_handler("session_start", kill)


async def test_a_session_lost_before_it_was_announced_is_reconnected(
    make_client: Make,
) -> None:
    """Before, the loss was ignored (not online yet) and the dead stream was then announced
    online: nothing ever reconnected."""
    gate = Gate()
    alice = await make_client(pause=gate, resume=False)
    bob = await make_client()
    links = Links(alice)
    cut_at_next_session_start(alice)
    cut(alice)
    assert await links.next() is Link.LOST
    gate.open()
    assert await links.next() is Link.ONLINE  # the second attempt: the first died at once
    assert links.pending() == []
    assert len(gate.attempts) >= 2  # without help from outside
    assert alice.connected
    await alice.ping(TIMEOUT)
    bob.send_plaintext(alice.bare_jid, "reaches the new session")
    assert (await alice.next_message(within=TIMEOUT)).body == "reaches the new session"


async def test_stanzas_queued_when_the_connection_dies_arrive_once_after_resumption(
    make_client: Make, caplog: pytest.LogCaptureFixture
) -> None:
    """Stanzas still in slixmpp's send queue when the connection dies are neither an
    exception in the send queue nor lost: the resumed stream sends each once."""
    gate = Gate()
    alice = await make_client(pause=gate)
    bob = await make_client()
    links = Links(alice)
    texts = [f"queued {n}" for n in range(20)]
    with caplog.at_level(logging.ERROR, logger="slixmpp"):
        for text in texts:
            alice.send_plaintext(bob.bare_jid, text)
        cut(alice)  # while the send queue still holds most of them
        assert await links.next() is Link.LOST
        gate.open()
        assert await links.next() is Link.RESUMED
        got = [(await bob.next_message(within=TIMEOUT)).body for _ in texts]
        alice.send_plaintext(bob.bare_jid, "last")
        assert (await bob.next_message(within=TIMEOUT)).body == "last"  # nothing twice
    assert got == texts
    assert not [r for r in caplog.records if "send queue" in r.getMessage()]


async def test_a_server_that_stops_answering_is_left_for_a_fresh_session(
    prosody: ProsodyServer,
) -> None:
    """A ping without an answer means the stream is broken though its socket is open (here
    a relay swallows everything from the ack request on): the client drops it and reconnects
    by itself, without resuming it."""
    armed = [False]

    def swallow(chunk: bytes) -> bool:
        return armed[0] and b"<r " in chunk

    jid, password = prosody.create_account()
    async with Relay(prosody.port, silence_when=swallow) as relay:
        alice = XmppClient(
            jid,
            password,
            host=prosody.host,
            port=relay.port,
            allow_plaintext_loopback=True,
            pause=lambda _n: asyncio.sleep(0),
        )
        links = Links(alice)
        try:
            await alice.connect(TIMEOUT)
            assert await links.next() is Link.ONLINE
            alice.send_plaintext(alice.bare_jid, "needs an ack")
            armed[0] = True
            with pytest.raises(TransportError, match="did not answer a ping"):
                await alice.ping(1)
            armed[0] = False
            assert await links.next() is Link.LOST
            assert await links.next() is Link.ONLINE  # not resumed: a fresh session
            await alice.ping(TIMEOUT)
        finally:
            await alice.disconnect()


async def test_a_resumed_session_that_was_never_announced_is_announced_as_fresh(
    make_client: Make,
) -> None:
    """A fresh session lost after stream management was enabled but before it was announced,
    then resumed by the next attempt, is a fresh session to the listeners (ONLINE): the
    stream they knew is gone with what it took. Before, the resumption was reported as
    RESUMED, and the outbox left the lost stream's unconfirmed messages to it; a ping on it
    then confirmed them, and they never reached the contact (the 50-cut run's a9-a17)."""
    gate = Gate()
    alice = await make_client(pause=gate)
    bob = await make_client()
    links = Links(alice)
    armed = [True]

    def kill(_event: Any) -> None:  # the fresh session dies before it is announced
        if armed and alice.stream.transport is not None:
            armed.clear()
            alice.stream.transport.abort()

    alice.stream.add_event_handler("sm_enabled", kill)
    dead_stream.drop_silent(alice.stream)  # no resumption of the announced stream
    assert await links.next() is Link.LOST
    gate.open()
    assert await links.next() is Link.ONLINE
    assert links.pending() == []
    assert not armed  # the fresh session was cut
    assert len(gate.attempts) >= 2
    await alice.ping(TIMEOUT)
    bob.send_plaintext(alice.bare_jid, "reaches the announced session")
    assert (await alice.next_message(within=TIMEOUT)).body == "reaches the announced session"
