"""Issue 17 over Prosody: a chat read on another device of ours is read here too.

Another client of Alice's account (plain slixmpp, through our `XmppClient`) sends Bob a
XEP-0333 displayed marker; Prosody carbon-copies it to Alice's service (XEP-0280 sent carbon).
Alice's unread count for Bob drops to the messages after the marked one and her roster row
follows; the delivery state of Alice's own messages to Bob never moves (it is her reading, not
Bob's); the marked message counts as displayed, so Alice does not send Bob the marker again. A
forged carbon or someone else's marker changes nothing. Read while this device was off, the
marker comes back from Alice's archive when she catches up."""

from __future__ import annotations

import asyncio
import contextlib
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator

import pytest

from tests.prosody import ProsodyServer
from tests.service.conftest import TIMEOUT, Peer, PeerFactory, delivery, exchange, use_version
from tests.service.test_receipts import DISPLAYED, acks, forged_event, reached
from tui_omemo.model import AckKind, Namespace
from tui_omemo.service.api import Delivery, RosterChanged, SecurityEventRaised
from tui_omemo.xmpp.client import XmppClient
from tui_omemo.xmpp.receipts import build_acknowledgement

pytestmark = pytest.mark.prosody


async def unread_becomes(peer: Peer, chat: str, count: int) -> None:
    """Wait for the roster row of `chat` showing `count` unread messages."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            row = (await peer.next_event(RosterChanged)).chat
            if row.jid == chat and row.unread == count:
                return


async def wire_id(peer: Peer, archive_id: int) -> str:
    """The message id an archived message arrived with."""
    row = await peer.service.runner.read(lambda uow: uow.archive.get(archive_id))
    assert row is not None
    assert row.message_id is not None
    return row.message_id


def forged_carbon(by: str, to: str, inner_from: str, chat: str, message_id: str) -> ET.Element:
    """A XEP-0280 sent carbon of a displayed marker, wrapped by `by` (not the account)."""
    return ET.fromstring(
        f'<message xmlns="jabber:client" to="{to}" type="chat">'
        '<sent xmlns="urn:xmpp:carbons:2"><forwarded xmlns="urn:xmpp:forward:0">'
        f'<message xmlns="jabber:client" from="{inner_from}/phone" to="{chat}" type="chat">'
        f'<displayed xmlns="urn:xmpp:chat-markers:0" id="{message_id}"/></message>'
        "</forwarded></sent></message>"
    )


@contextlib.asynccontextmanager
async def other_device(server: ProsodyServer, peer: Peer) -> AsyncIterator[XmppClient]:
    """Another client of `peer`'s account (its "phone"): plain XMPP, no presence sent, so it
    only sends what the test makes it send; disconnected at the end."""
    client = XmppClient(
        peer.jid,
        peer.password,
        host=server.host,
        port=server.port,
        allow_plaintext_loopback=True,
    )
    await client.connect(TIMEOUT, announce=False)
    try:
        yield client
    finally:
        await client.disconnect()


async def test_a_chat_read_on_another_device_of_ours_is_read_here(
    prosody: ProsodyServer, make_peer: PeerFactory
) -> None:
    alice, bob, mallory = await make_peer(), await make_peer(), await make_peer()
    await use_version(Namespace.V2, alice, bob)
    ours = await alice.service.send(bob.jid, "ours")
    assert ours.archive_id is not None
    await bob.next_message()
    await reached(alice, ours.archive_id, Delivery.RECEIVED)
    our_id = await wire_id(alice, ours.archive_id)
    for text in ("one", "two", "three"):
        await bob.service.send(alice.jid, text)
    ids = [await wire_id(alice, (await alice.next_message()).message.archive_id) for _ in "123"]
    await unread_becomes(alice, bob.jid, 3)

    # forged: a carbon Mallory wrapped, a marker of Mallory's own: nothing is read
    mallory.xmpp.send_stanza(forged_carbon(mallory.jid, alice.jid, alice.jid, bob.jid, ids[2]))
    mallory.xmpp.send_stanza(build_acknowledgement(alice.jid, AckKind.DISPLAYED, ids[2]))
    assert (await forged_event(alice)).bare_jid == mallory.jid
    assert (await alice.service.chat_summary(bob.jid)).unread == 3

    async with other_device(prosody, alice) as other:
        other.send_stanza(build_acknowledgement(bob.jid, AckKind.DISPLAYED, ids[1]))
        await unread_becomes(alice, bob.jid, 1)  # "three" came after the one read
        # a marker naming Alice's own message: not Bob's reading, not an unread message
        other.send_stanza(build_acknowledgement(bob.jid, AckKind.DISPLAYED, our_id))
        other.send_stanza(build_acknowledgement(bob.jid, AckKind.DISPLAYED, ids[2]))
        await unread_becomes(alice, bob.jid, 0)
    assert await delivery(alice, bob.jid, ours.archive_id) is Delivery.RECEIVED
    await alice.service.mark_read(bob.jid)  # on screen here too: already displayed elsewhere
    assert acks(alice, DISPLAYED) == []
    raised = [e for e in alice.drain_events() if isinstance(e, SecurityEventRaised)]
    assert raised == []  # our own markers are no forgery


async def test_a_chat_read_elsewhere_while_this_device_was_off_is_read_after_catch_up(
    prosody: ProsodyServer, make_peer: PeerFactory
) -> None:
    """Alice's phone reads Bob's messages while this device is off: the phone's marker is
    only in Alice's archive (no carbon reaches a device that is off); the catch-up brings it
    back after the messages it marks, and the chat is read up to it."""
    alice, bob = await make_peer(), await make_peer()
    await use_version(Namespace.V2, alice, bob)
    await exchange(alice, bob, "before the break")
    await alice.stop()
    sent = [await bob.service.send(alice.jid, text) for text in ("one", "two", "three")]
    ids = [await wire_id(bob, report.archive_id or 0) for report in sent]
    async with other_device(prosody, alice) as phone:
        phone.send_stanza(build_acknowledgement(bob.jid, AckKind.DISPLAYED, ids[1]))
        await reached(bob, sent[1].archive_id or 0, Delivery.READ)  # Bob sees it read

    back = await make_peer((alice.jid, alice.password), directory=alice.directory)
    await back.service.wait_idle()  # the catch-up is over, every message counted
    await unread_becomes(back, bob.jid, 1)  # "three" is unread
    assert (await back.service.chat_summary(bob.jid)).unread == 1


async def test_a_marker_that_overtakes_its_message_still_reads_the_chat(
    prosody: ProsodyServer, make_peer: PeerFactory
) -> None:
    """The phone's marker for "one" reaches Alice while "one" is still being decrypted (held
    here behind the engine lock): kept, it is applied once the live batch with "one" is
    committed, so only "two" stays unread (it used to wait for a catch-up page: 2 unread)."""
    alice, bob = await make_peer(), await make_peer()
    await use_version(Namespace.V2, alice, bob)
    await exchange(alice, bob, "hello")
    await alice.service.mark_read(bob.jid)
    async with other_device(prosody, alice) as phone:
        async with alice.service.session.lock:  # Alice's pipeline waits: nothing is committed
            sent = [await bob.service.send(alice.jid, text) for text in ("one", "two")]
            first = await wire_id(bob, sent[0].archive_id or 0)
            phone.send_stanza(build_acknowledgement(bob.jid, AckKind.DISPLAYED, first))
            await reached(bob, sent[0].archive_id or 0, Delivery.READ)
            await asyncio.sleep(0.3)  # the carbon of the marker reaches Alice too
            assert (await alice.service.chat_summary(bob.jid)).unread == 0
        await alice.service.wait_idle()
        await unread_becomes(alice, bob.jid, 1)
    assert (await alice.service.chat_summary(bob.jid)).unread == 1
