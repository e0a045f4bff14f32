"""The OMEMO version per device (over the real Prosody where the stanza is read, else over
the contract-pinned fake transport): with `auto` every trusted device gets
the message in a version it publishes, in ONE stanza (an OMEMO 2 element for the devices on
OMEMO 2 lists, a 0.3 element for the devices only on 0.3 lists); a chat forced to one
version reports the devices that publish only the other; skipped stale own devices carry
their own reason code."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from tests.service.conftest import Peer, PeerFactory, ServicePeer, ServicePeerFactory
from tui_omemo.config import Settings
from tui_omemo.model import Namespace
from tui_omemo.protocol.elements import EncryptedElement
from tui_omemo.service.api import SendFailed
from tui_omemo.store import UnitOfWork
from tui_omemo.xmpp.translate import encrypted_from_xml

_P = TypeVar("_P", bound=ServicePeer)


def has_body(message: ET.Element) -> bool:
    """Whether the stanza has a plaintext `<body>` (the stream's default namespace is not
    written on the recorded XML)."""
    return message.find("body") is not None or message.find("{jabber:client}body") is not None


async def legacy_only_device(
    make_peer: Callable[..., Awaitable[_P]], account: tuple[str, str]
) -> _P:
    """A device of `account` that publishes only OMEMO 0.3 (bundle and device list), like
    Conversations or Gajim; it is not started, so it never publishes OMEMO 2."""
    device = await make_peer(account, start=False)
    await device.service.session.publish_bundle(Namespace.LEGACY)
    await device.service.session.publish_device_list(Namespace.LEGACY)
    return device


def sent_message(peer: Peer, text_marker: str = "<encrypted") -> ET.Element:
    """The one `<message>` with an `<encrypted>` element `peer` sent (fails if not one)."""
    stanzas = [
        ET.fromstring(xml)
        for xml in peer.sent
        if xml.startswith("<message") and text_marker in xml and "<payload>" in xml
    ]
    assert len(stanzas) == 1, stanzas
    return stanzas[0]


def elements(message: ET.Element) -> dict[Namespace, EncryptedElement]:
    """The message's `<encrypted>` elements by version."""
    found = {}
    for namespace in Namespace:
        element = message.find(f"{{{namespace.value}}}encrypted")
        if element is not None:
            found[namespace] = encrypted_from_xml(element)
    return found


@pytest.mark.prosody
async def test_auto_gives_each_device_a_version_it_publishes_in_one_stanza(
    make_peer: PeerFactory,
) -> None:
    """Bob has one of our devices (both versions) and a 0.3-only device. One stanza leaves,
    carrying an OMEMO 2 element keyed for Bob's first device and a 0.3 element keyed for the
    0.3-only one (plus the 0.3 fallback body); each decrypts its element; Alice archives one
    row, Bob's running device one row."""
    alice = await make_peer()
    bob = await make_peer()
    legacy = await legacy_only_device(make_peer, (bob.jid, bob.password))
    await alice.service.refresh_device_list(bob.jid)

    report = await alice.service.send(bob.jid, "to every device")
    assert (report.omemo, report.versions, report.skipped) == (
        Namespace.V2,
        (Namespace.V2, Namespace.LEGACY),
        (),
    )
    got = (await bob.next_message()).message
    assert (got.body, got.omemo, got.failure) == ("to every device", Namespace.V2, None)

    message = sent_message(alice)
    found = elements(message)
    assert {key.device_id for key in found[Namespace.V2].keys} == {bob.service.device_id}
    assert {key.device_id for key in found[Namespace.LEGACY].keys} == {legacy.service.device_id}
    assert has_body(message)  # the fallback hint for clients without OMEMO
    decrypted = await legacy.service.session.engine.decrypt(found[Namespace.LEGACY], alice.jid)
    assert decrypted.plaintext == b"to every device"

    await bob.service.wait_idle()
    assert [m.body for m in (await alice.service.history(bob.jid, None, 10)).messages] == [
        "to every device"
    ]
    assert [m.body for m in (await bob.service.history(alice.jid, None, 10)).messages] == [
        "to every device"
    ]


@pytest.mark.prosody
async def test_one_version_when_it_reaches_every_device(make_peer: PeerFactory) -> None:
    """Every device publishes OMEMO 2: one OMEMO 2 element, no 0.3 element; the fallback body
    with its XEP-0428 marker all the same (issue 13: slixmpp-based clients need the body)."""
    alice = await make_peer()
    bob = await make_peer()
    report = await alice.service.send(bob.jid, "all speak 2")
    assert report.versions == (Namespace.V2,)
    assert (await bob.next_message()).message.omemo is Namespace.V2
    message = sent_message(alice)
    assert set(elements(message)) == {Namespace.V2}
    assert has_body(message)
    marker = message.find("{urn:xmpp:fallback:0}fallback")
    assert marker is not None
    assert marker.get("for") == Namespace.V2.value


@pytest.mark.prosody
async def test_forced_version_reports_devices_of_the_other_version(
    make_peer: PeerFactory,
) -> None:
    """A chat set to OMEMO 2 sends only OMEMO 2 and reports Bob's 0.3-only device as
    `other_version`; set to 0.3, both of Bob's devices get 0.3 and nobody is skipped."""
    alice = await make_peer()
    bob = await make_peer()
    legacy = await legacy_only_device(make_peer, (bob.jid, bob.password))
    await alice.service.refresh_device_list(bob.jid)

    await alice.service.set_chat_version(bob.jid, Namespace.V2)
    report = await alice.service.send(bob.jid, "forced 2")
    assert report.versions == (Namespace.V2,)
    assert [(s.device_id, s.code) for s in report.skipped] == [
        (legacy.service.device_id, "other_version")
    ]
    assert "publishes only OMEMO 0.3" in report.skipped[0].reason
    assert (await bob.next_message()).message.body == "forced 2"
    assert set(elements(sent_message(alice))) == {Namespace.V2}  # recorded once it left

    await alice.service.set_chat_version(bob.jid, Namespace.LEGACY)
    report = await alice.service.send(bob.jid, "forced 0.3")
    assert (report.versions, report.skipped) == ((Namespace.LEGACY,), ())
    got = (await bob.next_message()).message
    assert (got.body, got.omemo) == ("forced 0.3", Namespace.LEGACY)


async def test_forced_version_the_contact_lacks_sends_nothing(
    make_fake_peer: ServicePeerFactory,
) -> None:
    """A contact with only a 0.3 device: `auto` sends 0.3; forced to OMEMO 2 nothing leaves
    and the device is reported as publishing only 0.3."""
    alice = await make_fake_peer()
    carol_account = await make_fake_peer(start=False)
    carol = await legacy_only_device(make_fake_peer, (carol_account.jid, carol_account.password))
    report = await alice.service.send(carol.jid, "legacy only")
    assert report.versions == (Namespace.LEGACY,)
    await alice.service.set_chat_version(carol.jid, Namespace.V2)
    with pytest.raises(SendFailed) as failed:
        await alice.service.send(carol.jid, "forced")
    assert [(s.device_id, s.code) for s in failed.value.report.skipped] == [
        (carol.service.device_id, "other_version")
    ]


async def test_stale_own_device_has_its_own_reason(make_fake_peer: ServicePeerFactory) -> None:
    """An own device silent past the stale limit is reported with code `stale`, not as an
    undecided device."""
    alice1 = await make_fake_peer(settings=Settings(stale_after_hours=1))
    alice2 = await make_fake_peer((alice1.jid, alice1.password))
    bob = await make_fake_peer()
    await alice1.service.refresh_device_list(alice1.jid)

    def silent_since_1970(uow: UnitOfWork) -> None:
        for namespace in Namespace:
            uow.devices.touch_message(namespace, alice1.jid, alice2.service.device_id, 1)

    await alice1.service.runner.write(silent_since_1970)
    report = await alice1.service.send(bob.jid, "not for the old laptop")
    codes = {s.device_id: s.code for s in report.skipped}
    assert codes == {alice2.service.device_id: "stale"}
