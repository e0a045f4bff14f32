"""Encrypted 1:1 chat between two of our services over the fake transport (pinned to
the real one by tests/contract/test_transport.py), both versions."""

from __future__ import annotations

import pytest

from tests.service.conftest import ServicePeerFactory
from tui_omemo.model import Namespace
from tui_omemo.service.api import MessageTrust, SendFailed


@pytest.fixture
def make_peer(make_fake_peer: ServicePeerFactory) -> ServicePeerFactory:
    """This module's peers talk over the fake transport (`devtools/fake_transport.py`, pinned to
    the real one by tests/contract/test_transport.py): nothing here needs the XMPP wiring."""
    return make_fake_peer


@pytest.mark.parametrize("namespace", [Namespace.LEGACY, Namespace.V2])
async def test_two_services_chat_both_ways(
    make_peer: ServicePeerFactory, namespace: Namespace
) -> None:
    """Alice and Bob exchange messages in the chosen version; both archive both messages,
    blindly trusted (BTBV), with the version recorded."""
    alice = await make_peer()
    bob = await make_peer()
    await alice.service.set_chat_version(bob.jid, namespace)
    await bob.service.set_chat_version(alice.jid, namespace)

    report = await alice.service.send(bob.jid, "hello bob")
    assert report.omemo is namespace
    assert report.archive_id is not None
    received = (await bob.next_message()).message
    assert received.body == "hello bob"
    assert received.omemo is namespace
    assert received.trust is MessageTrust.BLIND
    assert not received.outgoing

    await bob.service.send(alice.jid, "hello alice")
    reply = (await alice.next_message()).message
    assert reply.body == "hello alice"
    assert reply.omemo is namespace

    page = await bob.service.history(alice.jid, None, 10)
    assert [(m.body, m.outgoing) for m in page.messages] == [
        ("hello bob", False),
        ("hello alice", True),
    ]


async def test_version_is_chosen_per_contact(make_peer: ServicePeerFactory) -> None:
    """OMEMO 2 while the contact publishes OMEMO 2 devices; 0.3 for a contact with only a 0.3
    device list; a per-chat override wins."""
    alice = await make_peer()
    bob = await make_peer()
    assert (await alice.service.send(bob.jid, "auto")).omemo is Namespace.V2
    assert (await bob.next_message()).message.omemo is Namespace.V2
    # carol's only device publishes 0.3 alone until it starts (a running service puts
    # itself back on both lists, so the 0.3-only device is one that is not running yet)
    carol = await make_peer(start=False)
    await carol.service.session.publish_bundle(Namespace.LEGACY)
    await carol.service.session.publish_device_list(Namespace.LEGACY)
    assert (await alice.service.send(carol.jid, "legacy only")).omemo is Namespace.LEGACY
    await alice.service.set_chat_version(carol.jid, Namespace.V2)
    with pytest.raises(SendFailed):  # forced OMEMO 2, but Carol has no OMEMO 2 device
        await alice.service.send(carol.jid, "forced")
    await carol.service.start()
    assert (await carol.next_message()).message.body == "legacy only"
