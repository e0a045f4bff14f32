"""The `Transport` port contract: the same assertions on the fake transport the service tests
use (`devtools/fake_transport.py`) and on the real one (`xmpp.transport.XmppTransport` over
the Prosody fixture).

What the service relies on: a message arrives live with its ids and a stanza-id of our
archive, or (to an account without presence) offline with a delay stamp once it goes online;
device lists read as empty until published and round-trip, bundles round-trip and a missing
one is `BundleUnavailable`; our archive pages oldest first and knows which of our messages it
holds; SCE envelopes round-trip and garbage is a ValueError; the roster adds, renames and
removes; a contact we are not subscribed to is offline; the ping answers; a resource without a
stream refuses to send with `NotConnected`.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from devtools.fake_transport import FakeNetwork, FakeTransport
from tests.prosody import ProsodyServer
from tui_omemo.model import AckKind, Acknowledgement, Arrival, Namespace, bare_jid
from tui_omemo.protocol.elements import DeviceList, DeviceListEntry, WireBundle
from tui_omemo.protocol.errors import BundleUnavailable
from tui_omemo.service.ports import (
    ChatStateArrival,
    Inbound,
    NotConnected,
    Outbound,
    Presence,
    Transport,
)
from tui_omemo.xmpp.client import XmppClient
from tui_omemo.xmpp.transport import XmppTransport

TIMEOUT = 15.0


@dataclass
class Account:
    """One logged-in resource (no presence yet) and what reached it."""

    transport: Transport
    inbox: asyncio.Queue[Inbound]
    drop: Callable[[], Awaitable[None]]

    @property
    def jid(self) -> str:
        return self.transport.own_bare_jid

    async def next(self) -> Inbound:
        return await asyncio.wait_for(self.inbox.get(), TIMEOUT)


Login = Callable[..., Awaitable[Account]]
"""`login()`: a fresh account; `login(jid)`: another resource of an account logged in before."""


def _account(transport: Transport, drop: Callable[[], Awaitable[None]]) -> Account:
    inbox: asyncio.Queue[Inbound] = asyncio.Queue()
    transport.set_handlers(inbox.put_nowait, lambda _connected, _detail: None)
    return Account(transport, inbox, drop)


async def online(*accounts: Account) -> None:
    """Presence for each, and the server has it (a ping round trip on each stream)."""
    for account in accounts:
        await account.transport.go_online()
        await account.transport.ping(TIMEOUT)


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.prosody)])
async def login(request: pytest.FixtureRequest) -> AsyncIterator[Login]:
    """Logs fresh accounts in, on the fake network or on Prosody."""
    clients: list[XmppClient] = []
    if request.param == "fake":
        network = FakeNetwork()

        async def fake(jid: str | None = None) -> Account:
            transport: FakeTransport = network.transport(jid or network.new_jid())

            async def drop() -> None:
                network.drop(transport)

            return _account(transport, drop)

        yield fake
        return
    prosody: ProsodyServer = request.getfixturevalue("prosody")
    passwords: dict[str, str] = {}

    async def real(jid: str | None = None) -> Account:
        if jid is None:
            jid, password = prosody.create_account()
            passwords[jid] = password
        password = passwords[jid]
        client = XmppClient(
            jid, password, host=prosody.host, port=prosody.port, allow_plaintext_loopback=True
        )
        await client.connect(TIMEOUT, announce=False)
        clients.append(client)
        return _account(XmppTransport(client), client.disconnect)

    yield real
    for client in clients:
        await client.disconnect()


def _message(to: str, body: str) -> Outbound:
    return Outbound(to, secrets.token_hex(8), None, body)


async def test_a_message_arrives_live_with_its_ids(login: Login) -> None:
    alice, bob = await login(), await login()
    await alice.transport.go_online()
    await bob.transport.go_online()
    await bob.transport.ping(TIMEOUT)  # the server has Bob's presence
    message = _message(bob.jid, "hello live")
    await alice.transport.send(message)
    got = await bob.next()
    assert got.arrival is Arrival.LIVE
    assert bare_jid(got.sender) == alice.jid
    assert bare_jid(got.recipient) == bob.jid
    assert (got.message_id, got.origin_id) == (message.message_id, message.message_id)
    assert got.stanza_id is not None
    assert (got.body, got.encrypted, got.timestamp_ms) == ("hello live", None, None)


async def test_a_message_to_an_account_without_presence_comes_offline(login: Login) -> None:
    alice, bob = await login(), await login()
    await alice.transport.go_online()
    await alice.transport.send(_message(bob.jid, "kept for later"))
    await alice.transport.ping(TIMEOUT)
    assert bob.inbox.empty()
    await bob.transport.go_online()
    got = await bob.next()
    assert (got.arrival, got.body) == (Arrival.OFFLINE, "kept for later")
    assert got.timestamp_ms is not None


def _bundle(seed: int) -> WireBundle:
    return WireBundle(
        Namespace.V2,
        bytes([seed]) * 32,
        bytes([seed + 1]) * 32,
        7,
        bytes([seed + 2]) * 64,
        {1: bytes([seed + 3]) * 32, 2: bytes([seed + 4]) * 32},
    )


async def test_device_lists_and_bundles_round_trip(login: Login) -> None:
    alice, bob = await login(), await login()
    await alice.transport.go_online()
    empty = await bob.transport.fetch_device_list(Namespace.V2, alice.jid)
    assert empty.device_ids == frozenset()
    listed = DeviceList(Namespace.V2, (DeviceListEntry(1234), DeviceListEntry(99)))
    await alice.transport.publish_device_list(listed)
    fetched = await bob.transport.fetch_device_list(Namespace.V2, alice.jid)
    assert fetched.device_ids == {1234, 99}
    await alice.transport.publish_bundle(1234, _bundle(1))
    assert await bob.transport.fetch_bundle(Namespace.V2, alice.jid, 1234) == _bundle(1)
    with pytest.raises(BundleUnavailable):
        await bob.transport.fetch_bundle(Namespace.V2, alice.jid, 99)


async def test_our_archive_pages_oldest_first_and_knows_our_messages(login: Login) -> None:
    alice, bob = await login(), await login()
    await alice.transport.go_online()
    await bob.transport.go_online()
    await bob.transport.ping(TIMEOUT)  # the server has Bob's presence
    since = int(time.time() * 1000) - 60_000
    sent = [_message(bob.jid, f"archived {n}") for n in range(3)]
    for message in sent:
        await alice.transport.send(message)
    for _ in sent:
        await bob.next()
    first = await alice.transport.mam_page(None, 2)
    assert [m.body for m in first.messages] == ["archived 0", "archived 1"]
    assert not first.complete
    assert all(m.arrival is Arrival.MAM and m.solicited for m in first.messages)
    assert all(bare_jid(m.wrapper_from or "") == alice.jid for m in first.messages)
    rest = await alice.transport.mam_page(first.last_id, 2)
    assert [m.body for m in rest.messages] == ["archived 2"]
    assert rest.complete
    assert await alice.transport.mam_last_id() == rest.last_id
    ids = [message.message_id for message in sent]
    assert await alice.transport.archived_sent_ids([*ids, "never-sent"], since) == set(ids)


async def test_envelopes_round_trip_and_garbage_is_refused(login: Login) -> None:
    alice = await login()
    data = alice.transport.build_envelope("inside <b>", "bob@example.org", alice.jid)
    envelope = alice.transport.parse_envelope(data)
    assert (envelope.body, envelope.to, envelope.sender) == (
        "inside <b>",
        "bob@example.org",
        alice.jid,
    )
    with pytest.raises(ValueError, match=r"."):
        alice.transport.parse_envelope(b"not an envelope")


async def test_roster_adds_renames_removes_and_presence_needs_a_subscription(
    login: Login,
) -> None:
    alice, bob = await login(), await login()
    await alice.transport.go_online()
    await bob.transport.go_online()
    await alice.transport.add_contact(bob.jid)
    added = {item.bare_jid: item for item in await alice.transport.roster()}
    assert added[bob.jid].subscription == "pending"
    await alice.transport.rename_contact(bob.jid, "Bob", ())
    renamed = {item.bare_jid: item for item in await alice.transport.roster()}
    assert renamed[bob.jid].name == "Bob"
    assert alice.transport.presence(bob.jid) is Presence.OFFLINE
    await alice.transport.remove_contact(bob.jid)
    assert bob.jid not in {item.bare_jid for item in await alice.transport.roster()}


async def test_ping_answers_and_a_resource_without_stream_refuses_to_send(
    login: Login,
) -> None:
    alice, bob = await login(), await login()
    await alice.transport.go_online()
    await alice.transport.ping(TIMEOUT)
    await alice.drop()
    with pytest.raises(NotConnected):
        await alice.transport.send(_message(bob.jid, "no stream"))


async def test_copies_reach_our_other_resource(login: Login) -> None:
    """A message to our bare JID reaches each of our available resources live (not as a
    carbon); what one of them sends reaches the other as a sent carbon from our own account."""
    alice, bob = await login(), await login()
    phone = await login(alice.jid)
    await online(alice, phone, bob)
    await bob.transport.send(_message(alice.jid, "to every resource"))
    got = [await alice.next(), await phone.next()]
    assert [(m.body, bare_jid(m.sender)) for m in got] == [("to every resource", bob.jid)] * 2
    assert [m.arrival for m in got] == [Arrival.LIVE, Arrival.LIVE]
    assert got[0].stanza_id is not None
    sent = _message(bob.jid, "from the laptop")
    await alice.transport.send(sent)
    copy = await phone.next()
    assert (copy.arrival, copy.body, copy.origin_id) == (
        Arrival.CARBON_SENT,
        "from the laptop",
        sent.message_id,
    )
    assert bare_jid(copy.wrapper_from or "") == alice.jid
    assert bare_jid(copy.sender) == alice.jid
    assert (await bob.next()).body == "from the laptop"


async def test_our_published_device_list_is_announced_to_us(login: Login) -> None:
    """A device list we publish comes back as a notification (the service puts this device
    back when another client dropped it), to our resources with presence only."""
    alice = await login()
    silent = await login(alice.jid)  # logged in, no presence sent
    heard: asyncio.Queue[tuple[str, DeviceList]] = asyncio.Queue()
    unheard: list[DeviceList] = []
    alice.transport.set_device_list_handler(lambda jid, found: heard.put_nowait((jid, found)))
    silent.transport.set_device_list_handler(lambda _jid, found: unheard.append(found))
    await online(alice)
    listed = DeviceList(Namespace.V2, (DeviceListEntry(4321),))
    await alice.transport.publish_device_list(listed)
    async with asyncio.timeout(TIMEOUT):
        while True:
            jid, found = await heard.get()
            if found.namespace is Namespace.V2 and found.device_ids == {4321}:
                break
    assert bare_jid(jid) == alice.jid
    await silent.transport.ping(TIMEOUT)
    assert unheard == []


async def test_a_chat_state_reaches_the_contact_alone_and_is_not_archived(login: Login) -> None:
    """XEP-0085 (issue 17): a chat state goes to the contact's chat-state handler, as a `chat`
    from our full JID, never to its message handler, and neither archive keeps it (the next
    message is the first thing in both)."""
    alice, bob = await login(), await login()
    await online(alice, bob)
    states: asyncio.Queue[ChatStateArrival] = asyncio.Queue()
    bob.transport.set_chat_state_handler(states.put_nowait)
    alice.transport.send_chat_state(bob.jid, "composing", groupchat=False)
    got = await asyncio.wait_for(states.get(), TIMEOUT)
    assert (bare_jid(got.sender), got.message_type, got.state) == (alice.jid, "chat", "composing")
    await alice.transport.send(_message(bob.jid, "after the state"))
    assert (await bob.next()).body == "after the state"
    for account in (alice, bob):
        page = await account.transport.mam_page(None, 10)
        assert [m.body for m in page.messages] == ["after the state"]


async def test_messages_ask_for_receipts_and_acknowledgements_arrive(login: Login) -> None:
    """Issue 17: a 1:1 message asks for a receipt and is markable; a receipt and a displayed
    marker reach the other side's acknowledgement handler with the sender's JID and the id."""
    alice, bob = await login(), await login()
    await online(alice, bob)
    acks: asyncio.Queue[Acknowledgement] = asyncio.Queue()
    alice.transport.set_acknowledgement_handler(acks.put_nowait)
    message = _message(bob.jid, "ask me")
    await alice.transport.send(message)
    got = await bob.next()
    assert (got.receipt, got.markable) == (True, True)
    assert Inbound.from_bytes(got.to_bytes()) == got  # the inbox keeps both
    for kind in (AckKind.RECEIVED, AckKind.DISPLAYED):
        bob.transport.send_acknowledgement(alice.jid, kind, message.message_id)
        ack = await asyncio.wait_for(acks.get(), TIMEOUT)
        assert (ack.kind, bare_jid(ack.sender), ack.message_id) == (
            kind,
            bob.jid,
            message.message_id,
        )
