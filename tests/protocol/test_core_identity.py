"""Our own device: creation and loading, prekey ids and refills, catch-up hiding, SPK rotation."""

from __future__ import annotations

import time

import pytest

from tests.fakes import FakeDevice, MemoryDirectory, MemoryStateStore
from tui_omemo.model import Namespace
from tui_omemo.protocol import identity as identity_module
from tui_omemo.protocol.engine import Engine
from tui_omemo.protocol.errors import StateCorrupted, UnknownPreKey
from tui_omemo.protocol.settings import CoreSettings

NAMESPACES = list(Namespace)
ME, PEER = "me@example.org", "peer@example.org"
WEEK = 7 * 24 * 3600


async def test_create_then_load_never_regenerates() -> None:
    store, directory = MemoryStateStore(), MemoryDirectory()
    first = await Engine.create(ME, store, directory)
    assert 1 <= first.device_id <= 2**31 - 1
    assert set(store.data) == {"identity", "x3dh/0.3", "x3dh/2"}
    assert all(value["version"] == 1 for value in store.data.values())
    writes = store.writes
    again = await Engine.create(ME, store, directory)
    assert (again.device_id, again.identity_key) == (first.device_id, first.identity_key)
    assert store.writes == writes
    assert await again.bundle(Namespace.V2) == await first.bundle(Namespace.V2)


@pytest.mark.parametrize("missing", ["identity", "x3dh/0.3", "x3dh/2"])
async def test_partial_state_is_refused(missing: str) -> None:
    store, directory = MemoryStateStore(), MemoryDirectory()
    await Engine.create(ME, store, directory)
    del store.data[missing]
    before = store.digest()
    with pytest.raises(StateCorrupted):
        await Engine.create(ME, store, directory)
    assert store.digest() == before


async def test_unknown_model_version_is_refused() -> None:
    store, directory = MemoryStateStore(), MemoryDirectory()
    await Engine.create(ME, store, directory)
    store.data["identity"]["version"] = 99
    with pytest.raises(StateCorrupted):
        await Engine.create(ME, store, directory)


async def test_device_id_avoids_the_own_device_list(monkeypatch: pytest.MonkeyPatch) -> None:
    directory = MemoryDirectory()
    directory.announce(Namespace.LEGACY, ME, 5)
    directory.announce(Namespace.V2, ME, 6)
    draws = iter([4, 5, 6])  # randbelow + 1 → 5, 6, 7
    monkeypatch.setattr(identity_module.secrets, "randbelow", lambda _: next(draws))
    engine = await Engine.create(ME, MemoryStateStore(), directory)
    assert engine.device_id == 7


async def test_one_identity_key_for_both_versions() -> None:
    engine = await Engine.create(ME, MemoryStateStore(), MemoryDirectory())
    legacy, v2 = await engine.bundle(Namespace.LEGACY), await engine.bundle(Namespace.V2)
    assert legacy.identity_key == b"\x05" + engine.identity_key
    assert v2.identity_key == engine.identity_key_ed25519


async def _pair(settings: CoreSettings | None = None) -> tuple[FakeDevice, FakeDevice]:
    directory = MemoryDirectory()
    return (
        await FakeDevice.create(ME, directory, settings=settings),
        await FakeDevice.create(PEER, directory),
    )


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_used_prekey_is_replaced_and_ids_are_never_reused(namespace: Namespace) -> None:
    me, peer = await _pair()
    before = await me.engine.bundle(namespace)
    sent = await peer.send(namespace, [ME], b"hi")
    got = await me.receive(sent.element, PEER)
    assert got.pre_key_consumed
    after = await me.engine.bundle(namespace)
    assert len(after.pre_keys) == 100
    gone = set(before.pre_keys) - set(after.pre_keys)
    new = set(after.pre_keys) - set(before.pre_keys)
    assert len(gone) == 1
    assert len(new) == 1
    assert min(new) > max(before.pre_keys)  # fresh id, never a reused one
    assert after.signed_pre_key_id == before.signed_pre_key_id


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_catch_up_hides_prekeys_and_deletes_them_after(namespace: Namespace) -> None:
    me, peer = await _pair()
    me.engine.begin_catch_up()
    sent = await peer.send(namespace, [ME], b"during catch-up")
    got = await me.receive(sent.element, PEER)
    assert got.pre_key_consumed
    used = next(iter(sent.element.keys))
    bundle = await me.engine.bundle(namespace)
    assert len(bundle.pre_keys) == 100  # refilled; the hidden one is not published
    # the hidden prekey still answers: a second key exchange on it (e.g. a MAM duplicate that
    # was received as a fresh session after a reset) works until catch-up ends
    await me.store.commit(await me.engine.delete_session(namespace, peer.ref))
    again = await me.engine.decrypt(sent.element, PEER)
    assert again.plaintext == b"during catch-up"
    changes = await me.engine.end_catch_up()
    assert changes
    await me.store.commit(changes)
    assert not me.engine.catching_up
    with pytest.raises(UnknownPreKey):
        await me.engine.decrypt(sent.element, PEER)
    assert used.key_exchange


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_signed_prekey_rotation_keeps_n_old_ones(namespace: Namespace) -> None:
    me, peer = await _pair(CoreSettings(renew_signed_prekey_keep=2))
    changes, changed = await me.engine.maintain()
    assert (len(changes), changed) == (0, False)  # fresh key, full bundle: nothing to do
    old_bundle = await me.engine.bundle(namespace)
    for step in (1, 2):
        changes, changed = await me.engine.maintain(now=time.time() + WEEK * step + 60)
        assert changed
        await me.store.commit(changes)
        if step == 1:  # a peer that fetched the bundle before this rotation still gets through
            first = await peer.send(namespace, [ME], b"after one rotation")
            assert (await me.receive(first.element, PEER)).plaintext == b"after one rotation"
    assert (await me.engine.bundle(namespace)).signed_pre_key_id == old_bundle.signed_pre_key_id + 2
    # the original SPK is now the second old one (keep=2); a third rotation drops it
    late = await FakeDevice.create("late@example.org", peer.directory)
    peer.directory.publish_bundle(ME, me.engine.device_id, old_bundle)
    stale = await late.send(namespace, [me.ref], b"with the original signed prekey")
    await me.store.commit((await me.engine.maintain(now=time.time() + WEEK * 3 + 120))[0])
    with pytest.raises(UnknownPreKey):
        await me.engine.decrypt(stale.element, "late@example.org")


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_older_signed_prekey_within_keep_still_answers(namespace: Namespace) -> None:
    me, peer = await _pair(CoreSettings(renew_signed_prekey_keep=3))
    original = await me.engine.bundle(namespace)
    for step in (1, 2, 3):  # three rotations: x3dh keeps one old SPK, we keep two more
        await me.store.commit((await me.engine.maintain(now=time.time() + WEEK * step + 60))[0])
    peer.directory.publish_bundle(ME, me.engine.device_id, original)
    sent = await peer.send(namespace, [me.ref], b"built on the 3-rotations-old SPK")
    got = await me.receive(sent.element, PEER)
    assert got.plaintext == b"built on the 3-rotations-old SPK"


async def test_device_label_signature() -> None:
    from tui_omemo.protocol.identity import verify_device_label

    engine = await Engine.create(ME, MemoryStateStore(), MemoryDirectory())
    signature = engine.sign_device_label("tui on laptop")
    assert verify_device_label(engine.identity_key_ed25519, "tui on laptop", signature)
    assert not verify_device_label(engine.identity_key_ed25519, "tui on phone", signature)
    assert not verify_device_label(engine.identity_key_ed25519, "tui on laptop", signature[:63])
