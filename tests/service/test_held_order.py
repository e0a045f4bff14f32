"""A 1:1 stanza held in the inbox because its device was not on the sender's device list is
not overtaken by the sender's later stanzas: once the device is listed it is processed first
(DESIGN.md §3.1: kept until the device appears on the list, then read in arrival order)."""

from __future__ import annotations

from typing import Any

from tests.service.conftest import ServicePeer, ServicePeerFactory
from tests.service.test_send_group import received
from tui_omemo.model import Namespace
from tui_omemo.protocol.elements import DeviceList
from tui_omemo.service.api import SecurityEventRaised


class OldLists:
    """Bob's server answers with an empty device list for `jid` while `old` is set (it does
    not know the sender's new device yet)."""

    def __init__(self, peer: ServicePeer, jid: str) -> None:
        transport: Any = peer.transport
        self._fetch = transport.fetch_device_list
        self._jid = jid
        self.old = True
        transport.fetch_device_list = self.fetch
        peer.service.session._directory.invalidate(jid)

    async def fetch(self, namespace: Namespace, jid: str) -> DeviceList:
        if self.old and jid == self._jid:
            return DeviceList(namespace, ())
        device_list: DeviceList = await self._fetch(namespace, jid)
        return device_list


async def inbox_rows(peer: ServicePeer) -> int:
    count: int = await peer.service.runner.read(lambda uow: uow.inbox.count())
    return count


async def test_a_held_stanza_is_read_before_the_later_one_of_its_device(
    make_fake_peer: ServicePeerFactory,
) -> None:
    """Alice's first message comes while Bob's view of her list lacks her device: it is held.
    Her next one comes once the list has it: Bob reads the held one first, then the next."""
    alice = await make_fake_peer()
    bob = await make_fake_peer()
    lists = OldLists(bob, alice.jid)
    await alice.service.send(bob.jid, "first")
    held = await bob.next_event(SecurityEventRaised)
    assert "kept unread" in held.event.detail
    assert await inbox_rows(bob) == 1

    lists.old = False
    await alice.service.send(bob.jid, "second")

    assert await received(bob, 1) == ["first"]
    assert await received(bob, 1) == ["second"]
    await bob.service.wait_idle()
    assert await inbox_rows(bob) == 0


async def test_a_notification_that_lists_the_device_brings_the_held_stanza(
    make_fake_peer: ServicePeerFactory,
) -> None:
    """The held message is read as soon as a notification lists its device, not at the next
    start or new stream."""
    alice = await make_fake_peer()
    bob = await make_fake_peer()
    OldLists(bob, alice.jid)
    await alice.service.send(bob.jid, "first")
    await bob.next_event(SecurityEventRaised)
    assert await inbox_rows(bob) == 1

    transport: Any = bob.transport
    for namespace in Namespace:
        transport.device_list_changed(
            alice.jid, await alice.transport.fetch_device_list(namespace, alice.jid)
        )

    assert await received(bob, 1) == ["first"]
    await bob.service.wait_idle()
    assert await inbox_rows(bob) == 0
