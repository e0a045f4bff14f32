"""XEP-0313 helper: only results of a query we opened, from the archive we asked, are accepted."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from slixmpp import Message

from tests.xmpp.conftest import Online
from tests.xmpp.test_client import _for
from tests.xmpp.test_translate import v2_encrypted
from tui_omemo.xmpp import mam

OWN = "alice@localhost"


def _result(query_id: str, sender: str | None, archive_id: str = "A1") -> ET.Element:
    sender_attr = f" from='{sender}'" if sender is not None else ""
    return ET.fromstring(
        f"<message xmlns='jabber:client'{sender_attr} to='{OWN}/tui'>"
        f"<result xmlns='urn:xmpp:mam:2' queryid='{query_id}' id='{archive_id}'>"
        "<forwarded xmlns='urn:xmpp:forward:0'>"
        "<delay xmlns='urn:xmpp:delay' stamp='2026-01-01T10:00:00Z'/>"
        f"<message xmlns='jabber:client' from='bob@localhost/p' to='{OWN}' type='chat' id='m'>"
        "<body>old</body></message></forwarded></result></message>"
    )


@pytest.mark.parametrize("sender", [None, OWN])
def test_result_of_our_query_is_read(sender: str | None) -> None:
    archived = mam.read_result(
        _result("q1", sender), query_id="q1", archive_jid=OWN, own_bare_jid=OWN
    )
    assert archived.archive_id == "A1"
    assert archived.message.stanza_id == "A1"
    assert archived.message.body == "old"
    assert archived.message.timestamp is not None
    assert archived.message.timestamp.year == 2026


@pytest.mark.parametrize(
    ("query_id", "sender"),
    [("other", None), ("q1", "mallory@localhost"), ("q1", f"{OWN}/res"), ("", None)],
)
def test_foreign_or_spoofed_results_are_refused(query_id: str, sender: str | None) -> None:
    with pytest.raises(mam.ForgedArchiveResult):
        mam.read_result(_result(query_id, sender), query_id="q1", archive_jid=OWN, own_bare_jid=OWN)


def test_query_shape() -> None:
    query = mam.build_query("q", with_jid="bob@localhost", after="X", max_results=5000)
    assert query.get("queryid") == "q"
    assert query.findtext(f"{{{mam.RSM}}}set/{{{mam.RSM}}}max") == "1000"
    assert query.findtext(f"{{{mam.RSM}}}set/{{{mam.RSM}}}after") == "X"


@pytest.mark.prosody
async def test_archive_pages_through_prosody(online: Online) -> None:
    """Bob's archive returns Alice's encrypted messages in order, page by page."""
    alice = await online()
    bob = await online()
    sent_ids = []
    for _ in range(3):
        sent_ids.append(alice.send_encrypted(_for(bob.bare_jid, v2_encrypted()), bob.bare_jid))
    for _ in range(3):
        await bob.next_message(within=10)
    first = await bob.query_archive(with_jid=alice.bare_jid, max_results=2)
    assert [m.message.origin_id for m in first.messages] == sent_ids[:2]
    assert not first.complete
    second = await bob.query_archive(with_jid=alice.bare_jid, after=first.last, max_results=2)
    assert [m.message.origin_id for m in second.messages] == sent_ids[2:]
    assert second.complete
    assert all(m.message.encrypted is not None for m in first.messages + second.messages)


@pytest.mark.prosody
async def test_injected_archive_result_is_dropped(online: Online) -> None:
    """A result-shaped message sent by another account never becomes history or a live message."""
    alice = await online()
    mallory = await online()
    message = Message(mallory._stream(), sto=alice.full_jid, stype="normal")
    message.xml.append(_result("guess", None).find("{urn:xmpp:mam:2}result"))
    message.send()
    mallory.send_encrypted(_for(alice.bare_jid, v2_encrypted()), alice.bare_jid)
    received = await alice.next_message(within=10)
    assert received.sender_bare_jid == mallory.bare_jid
    assert alice.rejected_archive_results == 1
