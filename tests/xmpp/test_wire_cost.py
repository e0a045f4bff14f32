"""What our client costs the server per message, as behaviour over the real Prosody: `ping`
confirms with a XEP-0198 ack request instead of an XEP-0199 ping (also after a fresh session
that replaced a non-resumable stream), and the gates in front of slixmpp's handlers change
nothing that is matched (a listener added later still hears its event; the server's pings
and disco queries are still answered).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from slixmpp.exceptions import IqError

from tests.relay import Gate
from tests.xmpp.conftest import Make
from tui_omemo.xmpp.client import Link, XmppClient
from tui_omemo.xmpp.errors import TransportError
from tui_omemo.xmpp.muc import build_join, build_leave

TIMEOUT = 30.0
PING = "urn:xmpp:ping"
SM = "urn:xmpp:sm:3"
CAPS = "http://jabber.org/protocol/caps"

pytestmark = pytest.mark.prosody


class Written:
    """Everything a client writes to its socket from now on."""

    def __init__(self, client: XmppClient) -> None:
        self.data: list[str] = []
        stream: Any = client.stream
        original = stream.send_raw

        def send_raw(data: str) -> None:
            self.data.append(data)
            original(data)

        stream.send_raw = send_raw

    def count(self, fragment: str) -> int:
        return sum(fragment in data for data in self.data)


async def test_ping_asks_for_an_ack_and_returns_once_the_server_has_the_message(
    make_client: Make,
) -> None:
    alice, bob = await make_client(), await make_client()
    written = Written(alice)
    alice.send_plaintext(bob.bare_jid, "hello")
    await alice.ping(TIMEOUT)
    assert written.count(f'<r xmlns="{SM}"') >= 1
    assert written.count(PING) == 0  # no XEP-0199 ping went out
    assert (await bob.next_message(within=TIMEOUT)).body == "hello"


async def test_ping_with_nothing_unacked_sends_nothing(make_client: Make) -> None:
    alice, bob = await make_client(), await make_client()
    alice.send_plaintext(bob.bare_jid, "hello")
    await alice.ping(TIMEOUT)
    written = Written(alice)
    await alice.ping(TIMEOUT)
    assert written.data == []


async def test_ping_times_out_when_the_server_stays_silent(make_client: Make) -> None:
    alice, bob = await make_client(), await make_client()
    stream: Any = alice.stream
    original = stream.send_raw

    def lose_ack_requests(data: str) -> None:  # every <r/> is lost on the way
        if not data.startswith("<r "):
            original(data)

    stream.send_raw = lose_ack_requests
    alice.send_plaintext(bob.bare_jid, "unconfirmed")
    with pytest.raises(TransportError, match="did not answer"):
        await alice.ping(0.5)


async def test_ping_after_a_fresh_session_replaced_a_stream_without_resumption(
    make_client: Make,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gate = Gate()
    alice = await make_client(resume=False, pause=gate)
    bob = await make_client()
    for n in range(7):
        alice.send_plaintext(bob.bare_jid, f"before {n}")
    await alice.ping(TIMEOUT)
    links: asyncio.Queue[Link] = asyncio.Queue()
    alice.add_connection_listener(links.put_nowait)
    transport = alice.stream.transport
    assert transport is not None
    transport.abort()
    assert await asyncio.wait_for(links.get(), TIMEOUT) is Link.LOST
    gate.open()
    assert await asyncio.wait_for(links.get(), TIMEOUT) is Link.ONLINE
    with caplog.at_level(logging.ERROR, logger="slixmpp"):
        alice.send_plaintext(bob.bare_jid, "after")
        await alice.ping(TIMEOUT)  # counts start again at 0 on the new stream
    assert "Inconsistent sequence numbers" not in caplog.text
    bodies = {(await bob.next_message(within=TIMEOUT)).body for _ in range(8)}
    assert "after" in bodies


async def test_a_slixmpp_event_listener_added_later_still_hears_messages(
    make_client: Make,
) -> None:
    alice, bob = await make_client(), await make_client()
    heard: asyncio.Queue[str] = asyncio.Queue()
    stream: Any = bob.stream
    stream.add_event_handler("message", lambda message: heard.put_nowait(str(message["body"])))
    alice.send_plaintext(bob.bare_jid, "gated, not removed")
    assert await asyncio.wait_for(heard.get(), TIMEOUT) == "gated, not removed"
    assert (await bob.next_message(within=TIMEOUT)).body == "gated, not removed"


async def test_iq_handlers_still_answer_other_entities(make_client: Make) -> None:
    alice, bob = await make_client(), await make_client()
    alice_stream: Any = alice.stream
    disco = await alice_stream.plugin["xep_0030"].get_info(jid=bob.full_jid, timeout=TIMEOUT)
    assert disco["disco_info"]["features"]  # Bob's client answered with its features
    try:
        await alice_stream.plugin["xep_0199"].send_ping(bob.full_jid, timeout=TIMEOUT)
    except IqError as error:  # pragma: no cover - would mean the ping handler never ran
        pytest.fail(f"Bob's client did not answer a ping: {error}")


async def test_a_message_written_by_our_serializer_arrives_intact(make_client: Make) -> None:
    alice, bob = await make_client(), await make_client()
    text = "<b>x</b> & \"double\" 'single' \n\ttabbed \U0001f389"
    written = Written(alice)
    message_id = alice.send_plaintext(bob.bare_jid, text)
    got = await bob.next_message(within=TIMEOUT)
    assert (got.body, got.message_id, got.origin_id) == (text, message_id, message_id)
    assert written.count("<message ") == 1
    assert written.count("ns0:") == 0


async def test_our_presences_carry_caps_and_no_stanza_waits_on_a_coroutine_filter(
    make_client: Make,
) -> None:
    """slixmpp's XEP-0115 `out` filter is a coroutine, run as a task under `asyncio.wait` for
    every outgoing stanza; ours stamps caps synchronously. Our presence and a room-join
    presence still carry `<c node hash ver>` (the `+notify` the server's PEP pushes rely on),
    an unavailable presence and a message do not, and no coroutine filter is left on `out`."""
    alice, bob = await make_client(), await make_client()
    stream: Any = alice.stream
    out_filters = stream._XMLStream__filters["out"]
    assert [f for f in out_filters if asyncio.iscoroutinefunction(f)] == []
    written = Written(alice)
    alice.send_presence()
    alice.send_stanza(build_join("room@conference.example", "alice"))
    alice.send_stanza(build_leave("room@conference.example", "alice"))
    alice.send_plaintext(bob.bare_jid, "no caps here")
    await alice.ping(TIMEOUT)
    presences = [data for data in written.data if data.startswith("<presence")]
    messages = [data for data in written.data if data.startswith("<message")]
    assert len(presences) == 3
    assert len(messages) == 1
    caps = f'<c xmlns="{CAPS}"'
    assert [caps in data for data in presences] == [True, True, False]
    assert 'hash="sha-1"' in presences[0]
    assert 'ver="' in presences[0]
    assert caps not in messages[0]
