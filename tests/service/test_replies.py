"""XEP-0461 replies over Prosody (issue #17), in both OMEMO versions: a reply is encrypted like
any message (0.3: `<reply>` and its `<fallback>` outside, next to the encrypted body; OMEMO 2:
only inside the SCE envelope); the receiver shows the text without the quoted fallback and
knows which message it answers; a fallback range that does not fit the body leaves the body
as it came."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

import pytest

from tests.service.conftest import PeerFactory, use_version
from tui_omemo.model import Namespace, ReplyRef

pytestmark = pytest.mark.prosody

REPLY = "{urn:xmpp:reply:0}reply"


@pytest.mark.parametrize("namespace", [Namespace.LEGACY, Namespace.V2], ids=["0.3", "2"])
async def test_a_reply_arrives_without_its_quote_and_names_the_original(
    make_peer: PeerFactory, namespace: Namespace
) -> None:
    alice, bob = await make_peer(), await make_peer()
    await use_version(namespace, alice, bob)
    await bob.service.send(alice.jid, "lunch at noon?\nor later")
    original = (await alice.next_message()).message
    assert original.message_id is not None

    await alice.service.reply(bob.jid, original.archive_id, "noon is fine")
    answer = (await bob.next_message()).message
    assert (answer.body, answer.reply_to) == ("noon is fine", original.message_id)
    ours = (await alice.service.history(bob.jid, None, 10)).messages[-1]
    assert (ours.body, ours.reply_to) == ("noon is fine", original.message_id)

    await asyncio.sleep(0.3)  # the recording filter has seen the stanzas
    sent = [ET.fromstring(x) for x in alice.sent if x.startswith("<message") and "<payload>" in x]
    outside = [element.find(REPLY) is not None for element in sent]
    assert outside == [namespace is Namespace.LEGACY]  # OMEMO 2 keeps it in the envelope
    assert all("noon is fine" not in xml and "lunch" not in xml for xml in alice.sent)

    # a range past the end of the body is no fallback: the text is shown as it came
    bad = ReplyRef(original.message_id, bob.jid, 0, 500)
    await alice.service.session.send_text(bob.jid, "> lunch\nok", allow_plaintext=False, reply=bad)
    kept = (await bob.next_message()).message
    assert (kept.body, kept.reply_to) == ("> lunch\nok", original.message_id)
