"""The encryption badge of a contact never says more than is true: a contact whose devices are
all distrusted is not "verified" (nothing we send reaches it), and "verified" means that every
device that receives our messages is verified (distrusted ones receive nothing)."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest

from tests.service.conftest import ServicePeerFactory
from tui_omemo.model import TrustLevel
from tui_omemo.protocol.trust import TrustMode
from tui_omemo.service.api import ChatSecurity, MemberReadiness
from tui_omemo.service.chat_badge import contact_security
from tui_omemo.service.rooms import room_security
from tui_omemo.service.runner import DbRunner

U, B, V, D = (
    TrustLevel.UNDECIDED,
    TrustLevel.BLINDLY_TRUSTED,
    TrustLevel.VERIFIED,
    TrustLevel.DISTRUSTED,
)


@pytest.mark.parametrize(
    ("levels", "mode", "badge"),
    [
        ([D], TrustMode.BTBV, ChatSecurity.NO_TRUSTED_DEVICE),
        ([D, D], TrustMode.MANUAL, ChatSecurity.NO_TRUSTED_DEVICE),
        ([V, D], TrustMode.BTBV, ChatSecurity.ALL_VERIFIED),
        ([B, D], TrustMode.BTBV, ChatSecurity.SOME_BLIND),
        ([V, B], TrustMode.BTBV, ChatSecurity.SOME_BLIND),
        ([V, U, D], TrustMode.BTBV, ChatSecurity.UNDECIDED_DEVICES),
        ([B, V], TrustMode.MANUAL, ChatSecurity.UNDECIDED_DEVICES),  # blind waits in manual
        ([], TrustMode.BTBV, ChatSecurity.UNDECIDED_DEVICES),
        ([V, V], TrustMode.MANUAL, ChatSecurity.ALL_VERIFIED),
    ],
)
def test_the_badge_follows_the_devices_that_receive(
    levels: list[TrustLevel], mode: TrustMode, badge: ChatSecurity
) -> None:
    """Undecided (also a blind device held back by manual mode) first; then no receiving
    device at all; then blind trust among the receivers; verified only when every receiver
    is verified."""
    assert contact_security(levels, mode) is badge


async def test_distrusting_every_device_of_a_contact_is_not_verified(
    make_fake_peer: ServicePeerFactory,
) -> None:
    """Bob has two devices. One verified and one distrusted: "verified" (only the verified one
    receives). Both distrusted: NO_TRUSTED_DEVICE on the roster row, never ALL_VERIFIED."""
    alice = await make_fake_peer()
    bob1 = await make_fake_peer()
    bob2 = await make_fake_peer((bob1.jid, bob1.password))
    await asyncio.sleep(0.5)  # bob2's device list reaches the server
    await alice.service.add_contact(bob1.jid)
    await alice.service.send(bob1.jid, "hello both")  # fetches both bundles: both blind
    first, second = bob1.service.device_id, bob2.service.device_id
    assert (await alice.service.chat_summary(bob1.jid)).security is ChatSecurity.SOME_BLIND
    await alice.service.set_trust(bob1.jid, first, TrustLevel.VERIFIED)
    await alice.service.set_trust(bob1.jid, second, TrustLevel.DISTRUSTED)
    assert (await alice.service.chat_summary(bob1.jid)).security is ChatSecurity.ALL_VERIFIED
    await alice.service.set_trust(bob1.jid, first, TrustLevel.DISTRUSTED)
    row = next(chat for chat in await alice.service.chats() if chat.jid == bob1.jid)
    assert row.security is ChatSecurity.NO_TRUSTED_DEVICE


@pytest.mark.parametrize(
    ("counts", "badge"),
    [
        ((True, 0, 0, 2), ChatSecurity.NO_TRUSTED_DEVICE),
        ((True, 1, 0, 1), ChatSecurity.ALL_VERIFIED),
        ((True, 0, 1, 1), ChatSecurity.UNDECIDED_DEVICES),
        ((False, 0, 0, 0), ChatSecurity.UNDECIDED_DEVICES),  # keys not fetched yet
    ],
)
async def test_a_room_member_with_only_distrusted_devices_is_not_verified(
    counts: tuple[bool, int, int, int], badge: ChatSecurity
) -> None:
    """Next to a member whose devices all receive, one whose known devices are all distrusted
    makes the room NO_TRUSTED_DEVICE (the send would leave it out); a member with a verified
    and a distrusted device still counts as verified. (No member's stored levels are read:
    those are only asked for blind trust, covered over Prosody in tests/muc.)"""
    has_keys, trusted, undecided, distrusted = counts
    readiness = (
        MemberReadiness("ok@example.org", "ok", True, 1, 0, 0),
        MemberReadiness("b@example.org", "b", has_keys, trusted, undecided, distrusted),
    )
    assert await room_security(readiness, (), cast("DbRunner", None)) is badge
