"""New kinds of the security timeline over the contract-pinned fake transport: a device that leaves
a contact's device list raises DEVICE_REMOVED (once), a trust-mode change raises
TRUST_MODE_CHANGED, stored events come back with the time they happened, and raised events carry
the same time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.service.conftest import ServicePeerFactory
from tui_omemo.events import SecurityEventKind
from tui_omemo.model import Namespace, TrustLevel
from tui_omemo.protocol.elements import DeviceList, DeviceListEntry
from tui_omemo.service.api import MessageReceived, SecurityEventRaised, ServiceEvent


@pytest.fixture
def make_peer(make_fake_peer: ServicePeerFactory) -> ServicePeerFactory:
    """This module's peers talk over the fake transport (`devtools/fake_transport.py`, pinned to
    the real one by tests/contract/test_transport.py): nothing here needs the XMPP wiring."""
    return make_fake_peer


OTHER_ID = 434343


async def test_a_device_leaving_a_contacts_list_and_a_trust_mode_change_are_events(
    make_peer: ServicePeerFactory,
) -> None:
    """Bob's list holds OTHER_ID, then not: alice's next fetch raises one DEVICE_REMOVED for
    it (a fetch of the same list raises none); switching to manual trust raises
    TRUST_MODE_CHANGED; both are in the timeline with the time they happened."""
    alice = await make_peer()
    bob = await make_peer()
    other = await make_peer((bob.jid, bob.password), start=False)
    bob_entry = DeviceListEntry(bob.service.device_id)
    await other.transport.publish_device_list(
        DeviceList(Namespace.V2, (bob_entry, DeviceListEntry(OTHER_ID)))
    )
    await alice.service.refresh_device_list(bob.jid)
    alice.drain_events()
    await other.transport.publish_device_list(DeviceList(Namespace.V2, (bob_entry,)))
    await alice.service.refresh_device_list(bob.jid)
    await alice.service.refresh_device_list(bob.jid)
    await alice.service.update_setting("trust_mode", "manual")
    await asyncio.sleep(0.1)  # the events pump passes them on
    raised = [e.event for e in alice.drain_events() if isinstance(e, SecurityEventRaised)]
    removed = [e for e in raised if e.kind is SecurityEventKind.DEVICE_REMOVED]
    assert [(e.bare_jid, e.device_id) for e in removed] == [(bob.jid, OTHER_ID)]
    assert "no longer on its OMEMO 2 device list" in removed[0].detail
    assert [e.kind for e in raised if e.kind is SecurityEventKind.TRUST_MODE_CHANGED] == [
        SecurityEventKind.TRUST_MODE_CHANGED
    ]
    stored = await alice.service.security_events()
    kinds = [e.kind for e in stored]
    assert kinds[:2] == [SecurityEventKind.TRUST_MODE_CHANGED, SecurityEventKind.DEVICE_REMOVED]
    moment = stored[0].occurred_at
    assert moment is not None
    assert abs(datetime.now(UTC) - moment) < timedelta(minutes=1)


async def test_raised_events_carry_the_time_they_were_stored(make_peer: ServicePeerFactory) -> None:
    """Alice first writes while Bob is offline: Bob's catch-up raises NEW_DEVICE and
    DEVICE_TRUSTED_BLINDLY for her device, each with the time stored for it (not None, which
    the timeline would fill with the time it is shown); a trust change by hand too."""
    alice = await make_peer()
    bob = await make_peer()
    await bob.stop()
    await alice.service.send(bob.jid, "while you were away")
    await asyncio.sleep(0.3)
    bob2 = await make_peer((bob.jid, bob.password), directory=bob.directory)
    events: list[ServiceEvent] = []
    async with asyncio.timeout(10):
        while not any(isinstance(e, MessageReceived) for e in events):
            events.append(await bob2.events.get())  # next_message would skip the others
    await bob2.service.set_trust(alice.jid, alice.service.device_id, TrustLevel.VERIFIED)
    await asyncio.sleep(0.1)  # the events pump passes them on
    events += bob2.drain_events()
    raised = [e.event for e in events if isinstance(e, SecurityEventRaised)]
    assert {e.kind for e in raised} >= {
        SecurityEventKind.NEW_DEVICE,
        SecurityEventKind.DEVICE_TRUSTED_BLINDLY,
        SecurityEventKind.TRUST_CHANGED,
    }
    stored = {(e.kind, e.detail): e.occurred_at for e in await bob2.service.security_events()}
    for event in raised:
        assert event.occurred_at is not None
        assert stored[(event.kind, event.detail)] == event.occurred_at
