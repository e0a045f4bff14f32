"""Our own device list over the real Prosody: when another client of the same account
publishes a list without this device (the XEP-0384 race), the running service puts itself
back on the list at once (not only at the next connect), keeping every other id."""

from __future__ import annotations

import asyncio

import pytest

from tests.service.conftest import PeerFactory
from tui_omemo.model import Namespace
from tui_omemo.protocol.elements import DeviceList, DeviceListEntry
from tui_omemo.service.transport import Transport

pytestmark = pytest.mark.prosody

WAIT = 15.0
OTHER_ID = 424242


async def ids_on_server(transport: Transport, namespace: Namespace, jid: str) -> frozenset[int]:
    return (await transport.fetch_device_list(namespace, jid)).device_ids


async def overwrite_until_readded(transport: Transport, namespace: Namespace, jid: str,
                                  device_id: int) -> frozenset[int]:
    """Publish a list holding only OTHER_ID until the server's list holds `device_id` again.

    The publish is repeated (every second) because Prosody notifies a resource only once it
    has learnt the resource's `+notify` caps, which happens a moment after its presence.
    Fails after WAIT seconds.
    """
    async with asyncio.timeout(WAIT):
        while True:
            await transport.publish_device_list(
                DeviceList(namespace, (DeviceListEntry(OTHER_ID),)))
            for _ in range(20):
                await asyncio.sleep(0.05)
                ids = await ids_on_server(transport, namespace, jid)
                if device_id in ids:
                    return ids


@pytest.mark.parametrize("namespace", [Namespace.LEGACY, Namespace.V2])
async def test_own_device_comes_back_after_another_client_drops_it(
    make_peer: PeerFactory, namespace: Namespace
) -> None:
    """A second connection of alice's account publishes a list holding only another id;
    the PEP notification makes alice's running service publish the merged list: its own id
    is back and the other client's id is still there."""
    alice = await make_peer()
    ours = alice.service.device_id
    assert ours in await ids_on_server(alice.transport, namespace, alice.jid)
    other = await make_peer((alice.jid, alice.password), start=False)

    listed = await overwrite_until_readded(other.transport, namespace, alice.jid, ours)
    assert OTHER_ID in listed
    # the other namespace was never touched
    other_namespace = Namespace.V2 if namespace is Namespace.LEGACY else Namespace.LEGACY
    assert ours in await ids_on_server(other.transport, other_namespace, alice.jid)
