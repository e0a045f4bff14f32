"""Chat states (XEP-0085, issue 17) between two real services over Prosody: typing reaches the
contact as `ChatStateChanged` events, one stanza per change (not per keystroke), paused follows
by itself; nothing is stored on either side (no history, no inbox row, nothing in the server
archives); with the `chat_states` setting off nothing is sent or shown; nobody outside the
roster who never sent us a state hears ours."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

import pytest

from tests.service.conftest import TIMEOUT, Peer, PeerFactory, use_version
from tui_omemo.config import Settings
from tui_omemo.model import Namespace
from tui_omemo.service import chat_states
from tui_omemo.service.api import ChatStateChanged, RosterChanged, Subscription

pytestmark = pytest.mark.prosody

CHATSTATES = "http://jabber.org/protocol/chatstates"


async def befriend(alice: Peer, bob: Peer) -> None:
    """A mutual presence subscription, as the user makes one (add, then allow and add)."""
    await alice.service.add_contact(bob.jid)
    async with asyncio.timeout(TIMEOUT):
        while not (await bob.next_event(RosterChanged)).chat.asks_subscription:
            pass
        await bob.service.answer_subscription(alice.jid, True, True)
        while True:
            row = (await alice.next_event(RosterChanged)).chat
            if row.jid == bob.jid and row.subscription is Subscription.BOTH:
                return


def states_sent(peer: Peer) -> list[str]:
    """The chat states `peer` put on the wire, in order."""
    found = []
    for text in peer.sent:
        for element in ET.fromstring(text).iter():
            if element.tag.startswith(f"{{{CHATSTATES}}}"):
                found.append(element.tag.partition("}")[2])
    return found


async def test_typing_reaches_the_contact_once_per_change_and_is_stored_nowhere(
    make_peer: PeerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five keystrokes send one composing; paused follows the quiet spell; sending (active)
    ends it. Bob sees each as an event for Alice's chat; afterwards neither history, nor
    Bob's inbox, nor either server archive holds anything of it."""
    monkeypatch.setattr(chat_states, "PAUSE_AFTER_S", 0.3)
    alice, bob = await make_peer(), await make_peer()
    await befriend(alice, bob)
    archived: list[ET.Element] = []
    for peer in (alice, bob):
        peer.xmpp.add_message_listener(archived.append)
    for _ in range(5):
        await alice.service.composing(bob.jid)
    assert await bob.next_event(ChatStateChanged) == ChatStateChanged(alice.jid, "composing")
    assert await bob.next_event(ChatStateChanged) == ChatStateChanged(alice.jid, "paused")
    await alice.service.chat_active(bob.jid)
    assert await bob.next_event(ChatStateChanged) == ChatStateChanged(alice.jid, "active")
    assert states_sent(alice) == ["composing", "paused", "active"]

    await bob.service.wait_idle()
    for peer, contact in ((alice, bob), (bob, alice)):
        assert (await peer.service.history(contact.jid, None, 10)).messages == ()
        assert await peer.service.runner.read(lambda uow: uow.inbox.count()) == 0
        await peer.transport.mam_page(None, 10)
    results = [x for x in archived if x.find("{urn:xmpp:mam:2}result") is not None]
    assert not [x for x in results if CHATSTATES in ET.tostring(x, encoding="unicode")]


async def test_with_the_setting_off_none_is_sent_or_shown_and_strangers_hear_none(
    make_peer: PeerFactory,
) -> None:
    """Alice has chat states off: her typing sends nothing, and Bob's typing (his setting is
    on) reaches her stream but shows nothing. Bob types to Carol, who is not in his roster and
    never sent him a state: nothing goes to her either."""
    alice = await make_peer(settings=Settings(chat_states=False))
    bob, carol = await make_peer(), await make_peer()
    await befriend(alice, bob)
    on_the_wire: asyncio.Queue[object] = asyncio.Queue()
    alice.xmpp.add_chat_state_listener(on_the_wire.put_nowait)
    await alice.service.composing(bob.jid)
    await alice.service.chat_active(bob.jid)
    await bob.service.composing(carol.jid)
    await bob.service.composing(alice.jid)
    await asyncio.wait_for(on_the_wire.get(), TIMEOUT)
    await asyncio.sleep(0.05)  # the service's handler ran in the same step; events are queued
    assert states_sent(alice) == []
    assert states_sent(bob) == ["composing"]
    shown = [e for e in alice.drain_events() if isinstance(e, ChatStateChanged)]
    assert shown == []


@pytest.mark.parametrize("namespace", [Namespace.V2, Namespace.LEGACY])
async def test_a_message_we_send_carries_active_in_its_own_stanza(
    make_peer: PeerFactory, namespace: Namespace
) -> None:
    """XEP-0085 §5: after typing, the message itself carries <active/> at its top level next
    to the <encrypted> of either OMEMO version (outside the encryption); no stanza of its own
    says active, neither then nor when the chat screen reports active after the send. Bob
    sees composing, then active, and the message."""
    alice, bob = await make_peer(), await make_peer()
    await befriend(alice, bob)
    await use_version(namespace, alice, bob)
    await alice.service.composing(bob.jid)
    assert await bob.next_event(ChatStateChanged) == ChatStateChanged(alice.jid, "composing")
    await alice.service.send(bob.jid, "typed and sent")
    await alice.service.chat_active(bob.jid)  # what the chat screen does after a send
    assert await bob.next_event(ChatStateChanged) == ChatStateChanged(alice.jid, "active")
    assert (await bob.next_message()).message.body == "typed and sent"
    assert states_sent(alice) == ["composing", "active"]
    stanzas = [ET.fromstring(text) for text in alice.sent]
    (carrier,) = [x for x in stanzas if x.find(f"{{{CHATSTATES}}}active") is not None]
    assert carrier.find(f"{{{namespace.value}}}encrypted") is not None  # one stanza, both
