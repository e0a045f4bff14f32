"""The trust rules drive the engine: `effective_level` is the `TrustDecider` answer it expects.

DESIGN.md §3 invariant 5: distrusted and undecided devices never get keys, and the sender is
told which devices were skipped and why. Devices here are python-omemo peers of one contact.
"""

from __future__ import annotations

import pytest
from omemo.session_manager import SessionManager

from tests.fakes import FakeDevice, MemoryDirectory
from tests.protocol.peers import Peer
from tui_omemo.model import DeviceRef, Namespace, TrustLevel
from tui_omemo.protocol.results import SkipReason
from tui_omemo.protocol.trust import (
    TrustMode,
    effective_level,
    levels_for_new_devices,
    trusted_device_ids,
)
from tui_omemo.protocol.verification import fingerprint, fingerprint_hex, format_fingerprint

THEM = "them@example.net"


async def contact(namespace: Namespace, ids: list[int]) -> tuple[FakeDevice, list[Peer]]:
    directory = MemoryDirectory()
    us = await FakeDevice.create("us@example.org", directory)
    peers = [await Peer.create(namespace, THEM, i, pre_keys=30) for i in ids]
    for peer in peers:
        directory.publish(THEM, peer.device_id, await peer.bundle())
    return us, peers


@pytest.mark.parametrize("namespace", [Namespace.LEGACY, Namespace.V2])
@pytest.mark.parametrize("mode", list(TrustMode))
async def test_engine_gives_keys_exactly_to_trusted_devices(
    namespace: Namespace, mode: TrustMode
) -> None:
    stored = {1: TrustLevel.BLINDLY_TRUSTED, 2: TrustLevel.VERIFIED, 3: TrustLevel.UNDECIDED}
    stored[4] = TrustLevel.DISTRUSTED
    us, peers = await contact(namespace, sorted(stored))

    def decide(device: DeviceRef, identity_key: bytes) -> TrustLevel:
        return effective_level(stored[device.device_id], mode)

    result = await us.engine.encrypt(namespace, [THEM], b"secret", decide)
    got_keys = {ref.device_id for ref in result.recipients}
    assert got_keys == trusted_device_ids(stored, mode)
    assert {key.device_id for key in result.element.keys} == got_keys
    skipped = {ref.device_id: reason for ref, reason in result.skipped.items()}
    assert skipped[4] is SkipReason.UNTRUSTED
    assert skipped[3] is SkipReason.UNDECIDED
    if mode is TrustMode.MANUAL:
        assert skipped[1] is SkipReason.UNDECIDED
    for peer in peers:
        if peer.device_id in got_keys:
            assert (await peer.decrypt(result.element, "us@example.org")).plaintext == b"secret"


async def test_empty_messages_need_no_trust() -> None:
    """Key-transport messages go to every device, whatever its trust (XEP-0384 §Security)."""
    us, _ = await contact(Namespace.V2, [1, 2])
    result = await us.engine.encrypt(
        Namespace.V2, [THEM], None, lambda _device, _key: TrustLevel.DISTRUSTED
    )
    assert {ref.device_id for ref in result.recipients} == {1, 2}


async def test_first_contact_then_new_device_after_verification() -> None:
    """BTBV over time: the first devices are blind, a verification makes the next one undecided."""
    known = levels_for_new_devices({}, [1, 2], TrustMode.BTBV)
    assert set(known.values()) == {TrustLevel.BLINDLY_TRUSTED}
    known[2] = TrustLevel.VERIFIED
    known.update(levels_for_new_devices(known, [3], TrustMode.BTBV))
    assert known[3] is TrustLevel.UNDECIDED
    assert trusted_device_ids(known, TrustMode.BTBV) == {1, 2}


@pytest.mark.parametrize("namespace", [Namespace.LEGACY, Namespace.V2])
async def test_fingerprints_agree_with_python_omemo_and_across_versions(
    namespace: Namespace,
) -> None:
    """Our fingerprint of a peer's bundle key is python-omemo's own `format_identity_key`, and our
    engine shows one fingerprint for both of its bundles."""
    peer = await Peer.create(namespace, THEM, 5, pre_keys=1)
    bundle = await peer.bundle()
    theirs = " ".join(SessionManager.format_identity_key(await peer.identity_key_ed25519()))
    assert fingerprint(bundle.identity_key, namespace) == theirs

    us, _ = await contact(namespace, [])
    shown = format_fingerprint(us.engine.identity_key.hex())
    for ns in Namespace:
        assert fingerprint((await us.engine.bundle(ns)).identity_key, ns) == shown
    assert (
        fingerprint_hex(us.engine.identity_key_ed25519, Namespace.V2)
        == us.engine.identity_key.hex()
    )
