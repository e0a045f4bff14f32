"""XmppClient's connection policy against the real Prosody (smacks enabled): a lost stream is
resumed (XEP-0198) or, without resumption, replaced by a fresh session, with backoff between
attempts; a deliberate disconnect never reconnects; nobody listening fails at once.

The tests hold the reconnect attempts behind a `Gate` (the client's `pause`), so "while away"
is a state the test controls, not a race; every wait is on an event, with generous timeouts.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from tests.prosody import ProsodyServer
from tests.relay import Gate, Relay
from tests.xmpp.conftest import Make
from tui_omemo.xmpp.client import BACKOFF_CAP, Link, XmppClient, backoff_delay
from tui_omemo.xmpp.errors import ConnectionFailed, NotConnected

TIMEOUT = 30.0


class Links:
    """The connection changes a client reported, awaitable one by one."""

    def __init__(self, client: XmppClient) -> None:
        self._queue: asyncio.Queue[Link] = asyncio.Queue()
        client.add_connection_listener(self._queue.put_nowait)

    async def next(self) -> Link:
        return await asyncio.wait_for(self._queue.get(), TIMEOUT)

    def pending(self) -> list[Link]:
        links = []
        while not self._queue.empty():
            links.append(self._queue.get_nowait())
        return links


def cut(client: XmppClient) -> None:
    """Kill the TCP connection under the client, as a network failure would."""
    transport = client.stream.transport
    assert transport is not None
    transport.abort()


def test_backoff_doubles_from_one_second_up_to_a_cap_with_jitter() -> None:
    for attempt, base in ((0, 1.0), (1, 2.0), (2, 4.0), (5, 32.0)):
        assert base * 0.8 <= backoff_delay(attempt) <= base * 1.2
    assert all(backoff_delay(attempt) <= BACKOFF_CAP for attempt in range(6, 100))
    assert backoff_delay(50) >= BACKOFF_CAP * 0.8
    assert len({backoff_delay(3) for _ in range(20)}) > 1  # jitter


@pytest.mark.prosody
async def test_a_lost_stream_is_resumed_and_what_arrived_meanwhile_comes_once(
    make_client: Make,
) -> None:
    gate = Gate()
    alice = await make_client(pause=gate)
    bob = await make_client()
    links = Links(alice)
    cut(alice)
    assert await links.next() is Link.LOST
    with pytest.raises(NotConnected, match="reconnecting"):  # refused, not silently dropped
        alice.send_plaintext(bob.bare_jid, "lost?")
    bob.send_plaintext(alice.full_jid, "while you were away")
    await bob.ping(TIMEOUT)  # the server has it
    gate.open()
    assert await links.next() is Link.RESUMED
    assert alice.connected
    got = await alice.next_message(within=TIMEOUT)
    assert got.body == "while you were away"
    bob.send_plaintext(alice.bare_jid, "after")
    assert (await alice.next_message(within=TIMEOUT)).body == "after"  # nothing twice before
    alice.send_plaintext(bob.bare_jid, "still works this way")
    assert (await bob.next_message(within=TIMEOUT)).body == "still works this way"
    assert gate.attempts == [0]


@pytest.mark.prosody
async def test_without_resumption_a_fresh_session_follows(make_client: Make) -> None:
    gate = Gate()
    alice = await make_client(pause=gate, resume=False)
    bob = await make_client()
    links = Links(alice)
    cut(alice)
    assert await links.next() is Link.LOST
    gate.open()
    assert await links.next() is Link.ONLINE
    bob.send_plaintext(alice.bare_jid, "to the new session")
    assert (await alice.next_message(within=TIMEOUT)).body == "to the new session"
    alice.send_plaintext(bob.bare_jid, "from the new session")
    assert (await bob.next_message(within=TIMEOUT)).body == "from the new session"


@pytest.mark.prosody
async def test_while_the_server_is_unreachable_attempts_back_off_and_retry(
    prosody: ProsodyServer,
) -> None:
    """Each failed attempt is followed by another (attempt numbers 0, 1, 2 … feed the
    backoff); once the server is reachable again the session comes back."""
    proxy = Relay(prosody.port)
    await proxy.up()
    attempts: list[int] = []
    back = asyncio.Event()

    async def pause(attempt: int) -> None:
        attempts.append(attempt)
        if attempt == 2:
            await proxy.up()
            back.set()

    jid, password = prosody.create_account()
    alice = XmppClient(
        jid, password, host="127.0.0.1", port=proxy.port, allow_plaintext_loopback=True, pause=pause
    )
    links = Links(alice)
    await alice.connect(within=TIMEOUT)
    assert await links.next() is Link.ONLINE
    try:
        await proxy.down()
        assert await links.next() is Link.LOST
        assert await links.next() in (Link.RESUMED, Link.ONLINE)
        assert back.is_set()
        assert attempts == [0, 1, 2]
        assert alice.connected
    finally:
        await alice.disconnect()
        await proxy.down()


@pytest.mark.prosody
async def test_a_deliberate_disconnect_never_reconnects(make_client: Make) -> None:
    gate = Gate()
    alice = await make_client(pause=gate)
    links = Links(alice)
    await alice.disconnect()
    assert await links.next() is Link.CLOSED
    assert not alice.connected
    await asyncio.sleep(0.5)  # give a (wrong) reconnect the chance to start
    assert gate.attempts == []
    assert links.pending() == []


async def test_nobody_listening_fails_at_once_with_a_reason() -> None:
    """Not the timeout: the failure names the address and the refusal."""
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        port = blocker.getsockname()[1]
        client = XmppClient(
            "a@localhost", "pw", host="127.0.0.1", port=port, allow_plaintext_loopback=True
        )
        with pytest.raises(ConnectionFailed) as failure:
            await client.connect(within=600)
    message = str(failure.value)
    assert message.startswith(f"cannot reach 127.0.0.1:{port}")
    assert "refused" in message.lower()
    assert "\n" not in message
    assert not client.connected


def nodelay(client: XmppClient) -> int:
    transport = client.stream.transport
    assert transport is not None
    sock = transport.get_extra_info("socket")
    return int(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


@pytest.mark.prosody
async def test_the_socket_has_tcp_nodelay_also_after_a_reconnect(make_client: Make) -> None:
    """Stanzas are small writes: Nagle's algorithm would hold one back until the previous
    one is acknowledged (with delayed ACKs, tens of ms per round trip)."""
    alice = await make_client(resume=False)
    links = Links(alice)
    assert nodelay(alice) == 1
    cut(alice)
    assert await links.next() is Link.LOST
    assert await links.next() is Link.ONLINE
    assert nodelay(alice) == 1
