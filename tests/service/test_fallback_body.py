"""The fallback body on the wire (issue 13 §1, OMEMO-WIRE.md §4.5), over Prosody: with
`add_body_hint` on, every message with content carries it, in either version, OMEMO 2 with the
XEP-0428 marker; empty messages (the answer to a key exchange) carry none; with the setting
off no message does; the receiver shows the decrypted text, never the fallback."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

import pytest

from tests.service.conftest import Peer, PeerFactory
from tui_omemo.config import Settings
from tui_omemo.model import Namespace

pytestmark = pytest.mark.prosody

MARKER = "{urn:xmpp:fallback:0}fallback"


def encrypted_stanzas(peer: Peer, *, empty: bool) -> list[ET.Element]:
    """The encrypted `<message>`s `peer` sent: with a payload, or the empty ones."""
    return [
        ET.fromstring(xml)
        for xml in peer.sent
        if xml.startswith("<message") and "<encrypted" in xml and ("<payload>" not in xml) == empty
    ]


def fallback(message: ET.Element) -> tuple[bool, list[str | None]]:
    """Whether the stanza has a `<body>`, and the `for` of its XEP-0428 markers."""
    body = message.find("body") is not None or message.find("{jabber:client}body") is not None
    return body, [marker.get("for") for marker in message.findall(MARKER)]


async def test_fallback_body_on_messages_with_content_only(make_peer: PeerFactory) -> None:
    """OMEMO 2 (body + marker), then 0.3 (body, no marker); Bob's empty answer to each key
    exchange carries neither; Bob reads the texts, never the fallback."""
    alice, bob = await make_peer(), await make_peer()
    await alice.service.send(bob.jid, "in OMEMO 2")
    assert (await bob.next_message()).message.body == "in OMEMO 2"
    await alice.service.set_chat_version(bob.jid, Namespace.LEGACY)
    await alice.service.send(bob.jid, "in 0.3")
    assert (await bob.next_message()).message.body == "in 0.3"
    await bob.service.wait_idle()
    await asyncio.sleep(0.3)  # the recording filter has seen the empty answers

    sent = encrypted_stanzas(alice, empty=False)
    assert [fallback(message) for message in sent] == [(True, [Namespace.V2.value]), (True, [])]
    answers = encrypted_stanzas(bob, empty=True)
    assert len(answers) == 2
    assert [fallback(message) for message in answers] == [(False, [])] * 2
    history = (await bob.service.history(alice.jid, None, 10)).messages
    assert [m.body for m in history] == ["in OMEMO 2", "in 0.3"]


async def test_no_fallback_body_when_the_setting_is_off(make_peer: PeerFactory) -> None:
    """`add_body_hint` off: no body and no marker."""
    alice = await make_peer(settings=Settings(add_body_hint=False))
    bob = await make_peer()
    await alice.service.send(bob.jid, "without a hint")
    assert (await bob.next_message()).message.body == "without a hint"
    await asyncio.sleep(0.3)
    assert [fallback(message) for message in encrypted_stanzas(alice, empty=False)] == [(False, [])]
