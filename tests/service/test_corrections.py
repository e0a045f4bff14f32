"""XEP-0308 last message correction over Prosody (issue #17), in both OMEMO versions: the
correction is encrypted like any message (0.3: `<replace>` outside next to the encrypted body,
as Conversations sends it; OMEMO 2: only inside the SCE envelope), the receiver shows the new
text in place of the original, marked edited, and keeps every version; a correction of a
message someone else wrote, or of none, is refused with a security event and shown as a
message of its own."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

import pytest

from tests.service.conftest import Peer, PeerFactory, use_version
from tui_omemo.events import SecurityEventKind
from tui_omemo.model import Namespace
from tui_omemo.service.api import MessageSent, SecurityEventRaised, SendFailed
from tui_omemo.service.corrections import Correction

pytestmark = pytest.mark.prosody

REPLACE = "{urn:xmpp:message-correct:0}replace"


async def forged_event(peer: Peer) -> str:
    """The detail of the next forged-correction security event (other events skipped)."""
    while True:
        event = (await peer.next_event(SecurityEventRaised)).event
        if event.kind is SecurityEventKind.FORGED_CORRECTION:
            return event.detail


def outer_replaces(peer: Peer) -> list[str | None]:
    """Per encrypted message `peer` sent with content: the id of a `<replace>` outside the
    encryption (None when there is none)."""
    found = []
    for xml in peer.sent:
        if xml.startswith("<message") and "<payload>" in xml:
            element = ET.fromstring(xml).find(REPLACE)
            found.append(None if element is None else element.get("id"))
    return found


@pytest.mark.parametrize("namespace", [Namespace.LEGACY, Namespace.V2], ids=["0.3", "2"])
async def test_correction_replaces_the_text_and_keeps_the_versions(
    make_peer: PeerFactory, namespace: Namespace
) -> None:
    alice, bob = await make_peer(), await make_peer()
    await use_version(namespace, alice, bob)
    await alice.service.send(bob.jid, "see you at 6")
    original = (await bob.next_message()).message
    report = await alice.service.correct_last(bob.jid, "see you at 7")
    assert report.omemo is namespace

    correction = (await bob.next_message()).message
    assert correction.corrects == original.archive_id
    assert correction.body == "see you at 7"
    shown = (await bob.service.history(alice.jid, None, 10)).messages
    assert [(m.body, m.edited) for m in shown] == [("see you at 7", True)]
    for peer in (alice, bob):  # search finds the message once, by its new text only
        hits = await peer.service.search("see you")
        assert [(h.message.body, h.message.edited) for h in hits] == [("see you at 7", True)]
        assert list(await peer.service.search("6")) == []
    assert shown[0].archive_id == original.archive_id
    assert await bob.service.message_versions(original.archive_id) == [
        "see you at 6",
        "see you at 7",
    ]
    assert (await bob.service.chat_summary(alice.jid)).unread == 1  # an edit is no new message
    mine = (await alice.service.history(bob.jid, None, 10)).messages
    assert [(m.body, m.edited) for m in mine] == [("see you at 7", True)]

    await asyncio.sleep(0.3)  # the recording filter has seen the stanzas
    first = await alice.service.runner.read(lambda uow: uow.archive.get(1))
    assert first is not None
    # 0.3 clients read <replace> outside the encryption; OMEMO 2 keeps it inside the envelope
    outside = first.message_id if namespace is Namespace.LEGACY else None
    assert outer_replaces(alice) == [None, outside]
    assert all("see you at" not in xml for xml in alice.sent)


async def test_a_correction_naming_the_previous_correction_corrects_the_message(
    make_peer: PeerFactory,
) -> None:
    """Clients that name the previous version instead of the first: still the same message,
    all three versions kept."""
    alice, bob = await make_peer(), await make_peer()
    await alice.service.send(bob.jid, "v1")
    original = (await bob.next_message()).message
    await alice.service.correct_last(bob.jid, "v2")
    first = (await bob.next_message()).message
    wire_id = await bob.service.runner.read(
        lambda uow: uow.archive.get(first.archive_id).message_id  # type: ignore[union-attr]
    )
    assert wire_id
    chained = Correction(wire_id, 0)
    await alice.service.session.send_text(bob.jid, "v3", allow_plaintext=False, correction=chained)
    assert (await bob.next_message()).message.corrects == original.archive_id
    assert await bob.service.message_versions(original.archive_id) == ["v1", "v2", "v3"]


async def test_forged_corrections_are_refused_with_a_security_event(
    make_peer: PeerFactory,
) -> None:
    """Alice "corrects" Bob's own message, then a message that does not exist: Bob's text
    stays, each arrives as a message of its own (nothing lost) and raises a security event."""
    alice, bob = await make_peer(), await make_peer()
    await bob.service.send(alice.jid, "I owe you nothing")
    bobs = (await alice.next_message()).message
    wire_id = await alice.service.runner.read(
        lambda uow: uow.archive.get(bobs.archive_id).message_id  # type: ignore[union-attr]
    )
    assert wire_id
    forged = Correction(wire_id, 0)
    await alice.service.session.send_text(
        bob.jid, "I owe you 100", allow_plaintext=False, correction=forged
    )
    assert "written by " + bob.jid in await forged_event(bob)
    arrived = (await bob.next_message()).message
    assert (arrived.corrects, arrived.edited) == (None, False)

    await alice.service.session.send_text(
        bob.jid, "phantom", allow_plaintext=False, correction=Correction("no-such-id", 0)
    )
    assert "does not exist" in await forged_event(bob)
    shown = (await bob.service.history(alice.jid, None, 10)).messages
    assert [(m.body, m.edited) for m in shown] == [
        ("I owe you nothing", False),
        ("I owe you 100", False),
        ("phantom", False),
    ]


async def test_nothing_to_correct_is_refused(make_peer: PeerFactory) -> None:
    """No message of ours in the chat: nothing is sent."""
    alice, bob = await make_peer(), await make_peer()
    with pytest.raises(SendFailed, match="no encrypted message"):
        await alice.service.correct_last(bob.jid, "fix")
    assert not [e for e in alice.drain_events() if isinstance(e, MessageSent)]
