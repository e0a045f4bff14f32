"""Over the real Prosody: a device the sender saw only on the 0.3 list receives a stanza whose
OMEMO 2 element has no key for it; it decrypts the 0.3 element instead of failing with "not
for this device"."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.service.conftest import PeerFactory
from tests.service.test_version_per_device import legacy_only_device, sent_message
from tui_omemo.model import Arrival, Namespace
from tui_omemo.xmpp.messages import read_message
from tui_omemo.xmpp.received import accepted
from tui_omemo.xmpp.transport import to_inbound

pytestmark = pytest.mark.prosody


async def test_device_keyed_only_in_the_legacy_element_reads_it(make_peer: PeerFactory) -> None:
    alice = await make_peer()
    bob = await make_peer()
    legacy = await legacy_only_device(make_peer, (bob.jid, bob.password))
    await alice.service.refresh_device_list(bob.jid)
    await alice.service.send(bob.jid, "seen on the 0.3 list")
    await bob.next_message()  # the stanza is on the wire

    stanza = sent_message(alice)
    stanza.set("from", f"{alice.jid}/{alice.xmpp.stream.boundjid.resource}")
    incoming = read_message(ET.fromstring(ET.tostring(stanza)), legacy.jid)
    assert incoming.encrypted is not None
    assert incoming.encrypted.namespace is Namespace.V2
    assert incoming.encrypted.key_for(legacy.service.device_id) is None
    await legacy.service.session.accept(to_inbound(accepted(incoming, Arrival.LIVE)))

    got = await legacy.next_message()
    assert (got.message.body, got.message.omemo, got.message.failure) == (
        "seen on the 0.3 list",
        Namespace.LEGACY,
        None,
    )
    rows = (await legacy.service.history(alice.jid, None, 10)).messages
    assert [(m.body, m.failure) for m in rows] == [("seen on the 0.3 list", None)]
