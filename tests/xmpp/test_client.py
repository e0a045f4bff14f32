"""XmppClient against the real Prosody: login rules, PEP device lists and bundles for both
namespaces, encrypted message round trips, carbons."""

from __future__ import annotations

import asyncio
import os
import xml.etree.ElementTree as ET

import pytest
from slixmpp import Message

from tests.prosody import ProsodyServer, free_port
from tests.xmpp.conftest import Online
from tests.xmpp.test_translate import legacy_encrypted, random_bundle, v2_encrypted
from tui_omemo.model import Namespace
from tui_omemo.protocol.elements import DeviceList, DeviceListEntry, EncryptedElement, KeyElement
from tui_omemo.xmpp.client import XmppClient
from tui_omemo.xmpp.errors import (
    AuthenticationFailed,
    BundleNotFound,
    ConnectionFailed,
    InsecureConnectionRefused,
)
from tui_omemo.xmpp.messages import LEGACY_BODY_HINT
from tui_omemo.xmpp.translate import bundle_to_xml, device_list_node, device_list_to_xml

pytestmark = pytest.mark.prosody

BOTH = [Namespace.LEGACY, Namespace.V2]


async def test_login_and_carbons_enabled(online: Online) -> None:
    client = await online()
    assert client.connected
    assert client.full_jid.startswith(client.bare_jid + "/")


def test_plaintext_refused_for_non_loopback_address() -> None:
    """The plaintext flag is only honoured on loopback; anything else is refused up front."""
    with pytest.raises(InsecureConnectionRefused, match="loopback"):
        XmppClient("a@example.org", "pw", host="example.org", allow_plaintext_loopback=True)
    with pytest.raises(InsecureConnectionRefused):
        XmppClient("a@example.org", "pw", host=None, allow_plaintext_loopback=True)


async def test_tls_required_without_the_flag(prosody: ProsodyServer) -> None:
    """Without the flag the client will not log in over the fixture's plaintext-only server."""
    jid, password = prosody.create_account()
    client = XmppClient(jid, password, host=prosody.host, port=prosody.port)
    with pytest.raises(InsecureConnectionRefused, match="TLS"):
        await client.connect(within=10)
    assert not client.connected


async def test_unreachable_server_fails_fast(prosody: ProsodyServer) -> None:
    """A closed port gives ConnectionFailed after one round of attempts, not after the timeout."""
    client = XmppClient(
        "a@localhost", "pw", host="127.0.0.1", port=free_port(), allow_plaintext_loopback=True
    )
    started = asyncio.get_running_loop().time()
    with pytest.raises(ConnectionFailed):
        await client.connect(within=20)
    assert asyncio.get_running_loop().time() - started < 10


async def test_wrong_password_is_an_authentication_error(prosody: ProsodyServer) -> None:
    jid, _ = prosody.create_account()
    client = XmppClient(
        jid, "wrong", host=prosody.host, port=prosody.port, allow_plaintext_loopback=True
    )
    with pytest.raises(AuthenticationFailed):
        await client.connect(within=10)


# --- device lists --------------------------------------------------------------------------


@pytest.mark.parametrize("namespace", BOTH)
async def test_device_list_publish_merges_with_server(online: Online, namespace: Namespace) -> None:
    """Two devices of one account each publish; the list ends up with both (never only ours),
    and a contact without subscription can read it (access model open)."""
    first = await online()
    password = first._password
    second = await online(jid=first.bare_jid, password=password)
    stranger = await online()
    assert (await first.fetch_device_list(first.bare_jid, namespace)).devices == ()
    assert (await stranger.fetch_device_list(first.bare_jid, namespace)).devices == ()
    await first.publish_device_list(namespace, DeviceListEntry(1111))
    merged = await second.publish_device_list(namespace, DeviceListEntry(2222))
    assert merged.device_ids == {1111, 2222}
    seen = await stranger.fetch_device_list(first.bare_jid, namespace)
    assert seen.device_ids == {1111, 2222}
    again = await first.publish_device_list(namespace, DeviceListEntry(1111))
    assert again.device_ids == {1111, 2222}


@pytest.mark.parametrize("namespace", BOTH)
async def test_own_device_readded_when_missing_from_notification(
    online: Online, namespace: Namespace
) -> None:
    """A careless other client overwrites our list without our id; we re-add ourselves and
    keep its id (race rule, pitfall 17)."""
    ours = await online()
    other = await online(jid=ours.bare_jid, password=ours._password)
    await ours.publish_device_list(namespace, DeviceListEntry(1111))
    await asyncio.sleep(0.3)  # let our caps (+notify) settle
    overwrite = device_list_to_xml(DeviceList(namespace, (DeviceListEntry(3333),)))
    plugin = other._omemo()
    await plugin._publish(
        device_list_node(namespace), "current", overwrite, {"pubsub#access_model": "open"}
    )
    for _ in range(50):
        current = await other.fetch_device_list(ours.bare_jid, namespace)
        if current.device_ids == {1111, 3333}:
            break
        await asyncio.sleep(0.1)
    assert current.device_ids == {1111, 3333}


async def test_device_list_notification_reaches_listener(online: Online) -> None:
    client = await online()
    updates: asyncio.Queue[object] = asyncio.Queue()
    client.add_device_list_listener(updates.put_nowait)
    await asyncio.sleep(0.3)
    await client.publish_device_list(Namespace.V2, DeviceListEntry(4242, "laptop", os.urandom(64)))
    update = await asyncio.wait_for(updates.get(), 10)
    assert getattr(update, "bare_jid", None) == client.bare_jid
    device_list = getattr(update, "device_list", None)
    assert isinstance(device_list, DeviceList)
    assert device_list.device_ids == {4242}
    assert device_list.devices[0].label == "laptop"


# --- bundles ----------------------------------------------------------------------------------


@pytest.mark.parametrize("namespace", BOTH)
async def test_bundle_fetchable_by_unsubscribed_account(
    online: Online, namespace: Namespace
) -> None:
    """Access model open: an account without presence subscription fetches our bundle."""
    owner = await online()
    stranger = await online()
    bundle = random_bundle(namespace)
    await owner.publish_bundle(1234, bundle)
    assert await stranger.fetch_bundle(owner.bare_jid, namespace, 1234) == bundle
    with pytest.raises(BundleNotFound):
        await stranger.fetch_bundle(owner.bare_jid, namespace, 999)


async def test_legacy_bundle_under_another_item_id_is_found(online: Online) -> None:
    """Pitfall 9: Dino publishes the 0.3 bundle under item `1`; we fetch without an item id."""
    owner = await online()
    stranger = await online()
    bundle = random_bundle(Namespace.LEGACY)
    await owner._omemo()._publish(
        f"{Namespace.LEGACY}.bundles:55",
        "1",
        bundle_to_xml(bundle),
        {"pubsub#access_model": "open"},
    )
    assert await stranger.fetch_bundle(owner.bare_jid, Namespace.LEGACY, 55) == bundle


async def test_plaintext_message_round_trip(online: Online) -> None:
    alice = await online()
    bob = await online()
    message_id = alice.send_plaintext(bob.bare_jid, "not secret")
    received = await bob.next_message(within=10)
    assert (received.body, received.encrypted, received.origin_id) == (
        "not secret",
        None,
        message_id,
    )


async def test_v2_bundles_node_keeps_several_devices(online: Online) -> None:
    """Pitfall 10: two devices' OMEMO 2 bundles live side by side on one node."""
    owner = await online()
    stranger = await online()
    first, second = random_bundle(Namespace.V2), random_bundle(Namespace.V2)
    await owner.publish_bundle(1, first)
    await owner.publish_bundle(2, second)
    assert await stranger.fetch_bundle(owner.bare_jid, Namespace.V2, 1) == first
    assert await stranger.fetch_bundle(owner.bare_jid, Namespace.V2, 2) == second


@pytest.mark.parametrize("namespace", BOTH)
async def test_precondition_not_met_reconfigures_and_retries(
    online: Online, namespace: Namespace, caplog: pytest.LogCaptureFixture
) -> None:
    """A node created with another access model makes publish-options fail; the plugin
    reconfigures the node and the bundle becomes readable by strangers."""
    owner = await online()
    stranger = await online()
    plugin = owner._omemo()
    node = (
        f"{Namespace.LEGACY}.bundles:77"
        if namespace is Namespace.LEGACY
        else f"{namespace}:bundles"
    )
    await plugin._publish_once(
        node,
        "77" if namespace is Namespace.V2 else "current",
        bundle_to_xml(random_bundle(namespace)),
        {"pubsub#access_model": "whitelist"},
    )
    bundle = random_bundle(namespace)
    with caplog.at_level("INFO", logger="tui_omemo.xmpp.xep_0384.plugin"):
        await owner.publish_bundle(77, bundle)
    assert "reconfiguring" in caplog.text
    assert await stranger.fetch_bundle(owner.bare_jid, namespace, 77) == bundle


# --- messages ---------------------------------------------------------------------------------


def _for(recipient: str, element: EncryptedElement) -> EncryptedElement:
    if element.namespace is Namespace.LEGACY:
        return element
    keys = tuple(
        KeyElement(recipient, key.device_id, key.data, key.key_exchange) for key in element.keys
    )
    return EncryptedElement(
        element.namespace, element.sender_device_id, keys, None, element.payload
    )


@pytest.mark.parametrize("namespace", BOTH)
async def test_encrypted_message_round_trip(online: Online, namespace: Namespace) -> None:
    """An EncryptedElement sent by Alice arrives at Bob unchanged, with ids and sender."""
    alice = await online()
    bob = await online()
    sent = _for(
        bob.bare_jid, legacy_encrypted() if namespace is Namespace.LEGACY else v2_encrypted()
    )
    message_id = alice.send_encrypted(sent, bob.bare_jid, body_hint=LEGACY_BODY_HINT)
    received = await bob.next_message(within=10)
    assert received.encrypted is not None
    assert received.encrypted.namespace is namespace
    assert received.encrypted.sender_device_id == sent.sender_device_id
    assert received.encrypted.payload == sent.payload
    assert {(k.device_id, k.data, k.key_exchange) for k in received.encrypted.keys} == {
        (k.device_id, k.data, k.key_exchange) for k in sent.keys
    }
    assert received.sender_bare_jid == alice.bare_jid
    assert received.origin_id == message_id == received.message_id
    assert received.stanza_id  # stamped by Prosody's MAM for bob's archive
    assert received.carbon is None


async def test_sent_carbon_reaches_our_other_device(online: Online) -> None:
    alice = await online()
    alice_phone = await online(jid=alice.bare_jid, password=alice._password)
    bob = await online()
    alice.send_encrypted(_for(bob.bare_jid, v2_encrypted()), bob.bare_jid)
    copy = await alice_phone.next_message(within=10)
    assert copy.carbon == "sent"
    assert copy.encrypted is not None
    await bob.next_message(within=10)


async def test_spoofed_carbon_is_rejected(online: Online) -> None:
    """Mallory wraps a fake 'received' carbon around a message and sends it to Alice: dropped."""
    alice = await online()
    mallory = await online()
    inner = (
        f"<received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>"
        f"<message xmlns='jabber:client' from='boss@localhost/x' to='{alice.bare_jid}' "
        f"type='chat'><body>transfer money</body></message></forwarded></received>"
    )
    stream = mallory._stream()
    message = Message(stream, sto=alice.full_jid, stype="chat")
    message.xml.append(ET.fromstring(inner))
    message.send()
    mallory.send_encrypted(_for(alice.bare_jid, v2_encrypted()), alice.bare_jid)
    received = await alice.next_message(within=10)
    assert received.sender_bare_jid == mallory.bare_jid
    assert received.carbon is None
    assert alice.rejected_carbons == 1


# --- roster and contacts' notifications ------------------------------------------------------


async def test_mutual_add_contact_gives_both_subscriptions_and_device_list_pushes(
    online: Online,
) -> None:
    """Two accounts add each other; the roster shows `both`, and a contact's device-list
    publication reaches us through our `+notify` caps."""
    alice = await online()
    bob = await online()
    updates: asyncio.Queue[object] = asyncio.Queue()
    alice.add_device_list_listener(updates.put_nowait)
    await alice.add_contact(bob.bare_jid, "Bob")
    await bob.add_contact(alice.bare_jid)
    for _ in range(50):
        entries = {entry.bare_jid: entry for entry in await alice.roster()}
        if entries.get(bob.bare_jid) and entries[bob.bare_jid].subscription == "both":
            break
        await asyncio.sleep(0.1)
    assert entries[bob.bare_jid].subscription == "both"
    assert entries[bob.bare_jid].name == "Bob"
    await asyncio.sleep(0.5)  # presence and caps exchange
    await bob.publish_device_list(Namespace.LEGACY, DeviceListEntry(5150))
    while True:
        update = await asyncio.wait_for(updates.get(), 10)
        if getattr(update, "bare_jid", None) == bob.bare_jid:
            break
    device_list = getattr(update, "device_list", None)
    assert isinstance(device_list, DeviceList)
    assert device_list.device_ids == {5150}


async def test_last_archive_id_points_at_the_newest_message(online: Online) -> None:
    alice = await online()
    bob = await online()
    assert await bob.last_archive_id() is None
    for _ in range(3):
        alice.send_plaintext(bob.bare_jid, "x")
        await bob.next_message(within=10)
    last = await bob.last_archive_id()
    page = await bob.query_archive(max_results=10)
    assert last is not None
    assert last == page.messages[-1].archive_id
    assert (await bob.query_archive(after=last)).messages == ()


async def test_readding_our_device_is_rate_limited(online: Online) -> None:
    """Invariant 7: a client that keeps removing us triggers at most 3 re-adds a minute."""
    client = await online()
    plugin = client._omemo()
    await client.publish_device_list(Namespace.V2, DeviceListEntry(1111))
    republished: list[DeviceList] = []

    async def record(device_list: DeviceList, own: DeviceListEntry) -> None:
        republished.append(device_list)

    plugin._republish = record  # type: ignore[method-assign]
    without_us = DeviceList(Namespace.V2, (DeviceListEntry(3333),))
    for _ in range(6):
        plugin._readd_if_missing(without_us)
    await asyncio.sleep(0)
    assert len(republished) == 3


async def test_subscription_requests_are_reported_not_granted(online: Online) -> None:
    """Nothing is granted automatically: Bob learns of Alice's request, and until he answers
    Alice's roster entry stays without presence permission from Bob."""
    alice = await online()
    bob = await online()
    requests: asyncio.Queue[str] = asyncio.Queue()
    bob.add_subscription_request_listener(requests.put_nowait)
    await alice.add_contact(bob.bare_jid)
    assert await asyncio.wait_for(requests.get(), 10) == alice.bare_jid
    await asyncio.sleep(0.3)
    entry = {e.bare_jid: e for e in await alice.roster()}[bob.bare_jid]
    assert entry.subscription in {"none", "from"}
    bob.deny_contact(alice.bare_jid)
