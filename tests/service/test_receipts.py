"""Issue 17 over Prosody: delivery receipts (XEP-0184) and displayed markers (XEP-0333).

Our 1:1 messages ask for a receipt and are markable; the contact's service answers a receipt
only for a message it decrypted and archived, and a displayed marker once the chat is on
screen (`mark_read`; never twice, never with the setting off). Both travel unencrypted. Our
message then goes sent → received → read; a receipt or marker from anyone else, or for a
message we never sent to its sender, changes nothing and raises a security event. Receipts
interoperate with slixmpp-omemo peers running slixmpp's own XEP-0184 plugin."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Account as CliAccount
from tests.cli.conftest import subscribe_both
from tests.cli.omemo_peer import OmemoPeer
from tests.prosody import ProsodyServer
from tests.service.conftest import TIMEOUT, Peer, PeerFactory, delivery, use_version
from tui_omemo.config import Settings
from tui_omemo.events import SecurityEvent, SecurityEventKind
from tui_omemo.model import Namespace
from tui_omemo.service.api import Delivery, MessageDelivered, SecurityEventRaised

pytestmark = pytest.mark.prosody

RECEIPT = '<received xmlns="urn:xmpp:receipts"'
DISPLAYED = '<displayed xmlns="urn:xmpp:chat-markers:0"'


async def reached(peer: Peer, archive_id: int, level: Delivery) -> MessageDelivered:
    """The MessageDelivered raising `archive_id` to `level` (others are skipped)."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            event = await peer.next_event(MessageDelivered)
            if event.archive_id == archive_id and event.delivery is level:
                return event


async def forged_event(peer: Peer) -> SecurityEvent:
    """The next FORGED_ACKNOWLEDGEMENT security event of `peer` (others are skipped)."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            event = (await peer.next_event(SecurityEventRaised)).event
            if event.kind is SecurityEventKind.FORGED_ACKNOWLEDGEMENT:
                return event


def acks(peer: Peer, kind: str) -> list[str]:
    """What `peer` sent of one kind of acknowledgement."""
    return [stanza for stanza in peer.sent if kind in stanza]


@pytest.mark.parametrize("namespace", [Namespace.LEGACY, Namespace.V2])
async def test_receipt_then_displayed_marker_travel_unencrypted(
    make_peer: PeerFactory, namespace: Namespace
) -> None:
    alice, bob = await make_peer(), await make_peer()
    await use_version(namespace, alice, bob)
    report = await alice.service.send(bob.jid, "did you get this?")
    assert report.archive_id is not None
    assert (await bob.next_message()).message.body == "did you get this?"
    message = next(s for s in alice.sent if "did you get this" not in s and "<payload" in s)
    assert '<request xmlns="urn:xmpp:receipts"' in message
    assert '<markable xmlns="urn:xmpp:chat-markers:0"' in message
    await reached(alice, report.archive_id, Delivery.RECEIVED)
    assert await delivery(alice, bob.jid, report.archive_id) is Delivery.RECEIVED
    [receipt] = acks(bob, RECEIPT)
    assert "<encrypted" not in receipt
    assert "<body" not in receipt
    assert acks(bob, DISPLAYED) == []  # not on screen yet

    await bob.service.mark_read(alice.jid)
    await reached(alice, report.archive_id, Delivery.READ)
    assert await delivery(alice, bob.jid, report.archive_id) is Delivery.READ
    await bob.service.mark_read(alice.jid)  # on screen again: already marked
    assert len(acks(bob, DISPLAYED)) == 1
    assert acks(alice, RECEIPT) == []
    assert acks(alice, DISPLAYED) == []


async def test_forged_receipts_and_markers_are_ignored_with_a_security_event(
    make_peer: PeerFactory,
) -> None:
    """Mallory acknowledges Alice's message to Bob; Bob acknowledges a message Alice never
    sent him: Alice's message stays "sent", each is a security event. Bob, with displayed
    markers off, sends none."""
    alice = await make_peer()
    bob = await make_peer(settings=Settings(send_displayed_markers=False))
    mallory = await make_peer()
    await use_version(Namespace.V2, alice, bob)
    report = await alice.service.send(bob.jid, "for bob only")
    assert report.archive_id is not None
    message_id = await alice.service.runner.read(
        lambda uow: uow.archive.get(report.archive_id).message_id  # type: ignore[arg-type,union-attr]
    )
    assert (await bob.next_message()).message.body == "for bob only"
    await bob.service.mark_read(alice.jid)
    assert acks(bob, DISPLAYED) == []  # the setting is off
    await reached(alice, report.archive_id, Delivery.RECEIVED)  # Bob's genuine receipt

    forged = [
        (mallory, f'<received xmlns="urn:xmpp:receipts" id="{message_id}"/>'),
        (mallory, f'<displayed xmlns="urn:xmpp:chat-markers:0" id="{message_id}"/>'),
        (bob, '<displayed xmlns="urn:xmpp:chat-markers:0" id="never-sent"/>'),
    ]
    for sender, element in forged:
        sender.xmpp.send_stanza(
            ET.fromstring(
                f'<message xmlns="jabber:client" to="{alice.jid}" type="chat">{element}</message>'
            )
        )
    raised = [await forged_event(alice) for _ in forged]
    assert sorted(event.bare_jid for event in raised) == sorted(s.jid for s, _e in forged)
    assert await delivery(alice, bob.jid, report.archive_id) is Delivery.RECEIVED
    stored = await alice.service.runner.read(
        lambda uow: [e.kind for e in uow.security_events.recent(10)]
    )
    assert stored.count(SecurityEventKind.FORGED_ACKNOWLEDGEMENT) == len(forged)


async def test_receipts_interoperate_with_slixmpp_omemo(
    prosody: ProsodyServer, make_peer: PeerFactory
) -> None:
    """python-omemo (slixmpp-omemo, 0.3) with slixmpp's own XEP-0184 plugin: its automatic
    receipt marks our message received; our receipt for its message reaches its plugin."""
    a_jid, a_password = prosody.create_account()
    b_jid, b_password = prosody.create_account()
    unused = Path("unused")
    await subscribe_both(
        prosody, CliAccount(a_jid, a_password, unused), CliAccount(b_jid, b_password, unused)
    )
    alice = await make_peer((a_jid, a_password))
    bob = await OmemoPeer.start(prosody, b_jid, b_password)
    try:
        bob.client.register_plugin("xep_0184")
        bob.client.plugin["xep_0184"].auto_request = True  # auto_ack is on by default
        receipts: asyncio.Queue[Any] = asyncio.Queue()
        bob.client.add_event_handler("receipt_received", receipts.put_nowait)
        await alice.service.set_chat_version(b_jid, Namespace.LEGACY)
        await bob.refresh(a_jid)
        report = await alice.service.send(b_jid, "to python-omemo")
        assert report.archive_id is not None
        assert (await bob.next_message()).text == "to python-omemo"
        await reached(alice, report.archive_id, Delivery.RECEIVED)

        await bob.send(a_jid, "from python-omemo")
        assert (await alice.next_message()).message.body == "from python-omemo"
        receipt = await asyncio.wait_for(receipts.get(), TIMEOUT)
        assert receipt["from"].bare == a_jid
        assert receipt["receipt"]
        assert not bob.errors, bob.errors
    finally:
        await bob.stop()


@pytest.mark.parametrize("namespace", [Namespace.LEGACY, Namespace.V2])
async def test_a_correction_is_answered_like_any_message(
    make_peer: PeerFactory, namespace: Namespace
) -> None:
    """A correction asks for a receipt; the contact answers it once the correction is
    archived, and the receipt names the correction (its own id, not the corrected one's)."""
    alice, bob = await make_peer(), await make_peer()
    await use_version(namespace, alice, bob)
    await alice.service.send(bob.jid, "see you at 6")
    await bob.next_message()
    report = await alice.service.correct_last(bob.jid, "see you at 7")
    assert report.archive_id is not None
    correction = next(s for s in reversed(alice.sent) if "<payload" in s)
    assert '<request xmlns="urn:xmpp:receipts"' in correction
    await reached(alice, report.archive_id, Delivery.RECEIVED)
    wire_id = ET.fromstring(correction).get("id")
    assert wire_id is not None
    assert [r for r in acks(bob, RECEIPT) if f'id="{wire_id}"' in r]
    stored = await bob.service.runner.read(lambda uow: uow.archive.original(alice.jid, wire_id))
    assert stored is not None
    assert stored.body == "see you at 7"
