"""Our own device list over the contract-pinned fake transport: when another client of the same
account publishes a list without this device (the XEP-0384 race), the running service puts
itself back on the list at once (not only at the next connect), keeping every other id."""

from __future__ import annotations

import asyncio

import pytest

from tests.service.conftest import ServicePeerFactory
from tui_omemo.model import Namespace
from tui_omemo.protocol.elements import DeviceList, DeviceListEntry
from tui_omemo.protocol.identity import verify_device_label
from tui_omemo.service.api import AccountChange
from tui_omemo.service.ports import Transport
from tui_omemo.store import Account


@pytest.fixture
def make_peer(make_fake_peer: ServicePeerFactory) -> ServicePeerFactory:
    """This module's peers talk over the fake transport (`devtools/fake_transport.py`, pinned to
    the real one by tests/contract/test_transport.py): nothing here needs the XMPP wiring."""
    return make_fake_peer


WAIT = 15.0
OTHER_ID = 424242


async def ids_on_server(transport: Transport, namespace: Namespace, jid: str) -> frozenset[int]:
    return (await transport.fetch_device_list(namespace, jid)).device_ids


async def overwrite_until_readded(
    transport: Transport, namespace: Namespace, jid: str, device_id: int
) -> frozenset[int]:
    """Publish a list holding only OTHER_ID until the server's list holds `device_id` again.

    The publish is repeated (every second) because Prosody notifies a resource only once it
    has learnt the resource's `+notify` caps, which happens a moment after its presence.
    Fails after WAIT seconds.
    """
    async with asyncio.timeout(WAIT):
        while True:
            await transport.publish_device_list(DeviceList(namespace, (DeviceListEntry(OTHER_ID),)))
            for _ in range(20):
                await asyncio.sleep(0.05)
                ids = await ids_on_server(transport, namespace, jid)
                if device_id in ids:
                    return ids


@pytest.mark.parametrize("namespace", [Namespace.LEGACY, Namespace.V2])
async def test_own_device_comes_back_after_another_client_drops_it(
    make_peer: ServicePeerFactory, namespace: Namespace
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


async def test_the_label_is_signed_on_the_omemo2_list_kept_and_removed(
    make_peer: ServicePeerFactory,
) -> None:
    """`update_account(label=…)` publishes this device's label on the OMEMO 2 list with a
    `labelsig` that verifies with our identity key (0.3 lists carry none); removing another
    own device keeps the label; an empty label removes it. Keys and account stay as they
    were."""
    alice = await make_peer()
    ours = alice.service.device_id
    row = Account(alice.jid, alice.password, "127.0.0.1", 5222, allow_plaintext_loopback=True)
    await alice.service.runner.write(lambda uow: uow.account.save(row))  # as `account add`
    before = await alice.service.account()

    async def entry(namespace: Namespace) -> DeviceListEntry:
        listed = await alice.transport.fetch_device_list(namespace, alice.jid)
        return next(e for e in listed.devices if e.device_id == ours)

    info = await alice.service.update_account(AccountChange(label="bench laptop"))
    assert info.label == "bench laptop"
    labelled = await entry(Namespace.V2)
    assert labelled.label == "bench laptop"
    assert labelled.label_signature is not None
    key = alice.service.session.engine.identity_key_ed25519
    assert verify_device_label(key, "bench laptop", labelled.label_signature)
    assert (await entry(Namespace.LEGACY)).label is None
    await alice.service.remove_own_devices([OTHER_ID])
    assert await entry(Namespace.V2) == labelled
    await alice.service.update_account(AccountChange(label=""))
    assert (await entry(Namespace.V2)).label is None
    after = await alice.service.account()
    assert (after.device_id, after.fingerprint, after.server) == (
        before.device_id,
        before.fingerprint,
        before.server,
    )
