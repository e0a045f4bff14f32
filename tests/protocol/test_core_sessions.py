"""Alice, Bob and Bob's second device over the in-memory ports, in both OMEMO versions.

No network and no crypto mocks: real X3DH, real ratchets, real payload crypto. Every helper
commits the returned `StateChanges` like a host would.
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.fakes import FakeDevice, MemoryDirectory
from tui_omemo.model import DeviceRef, Namespace, TrustLevel
from tui_omemo.protocol.elements import EncryptedElement, KeyElement
from tui_omemo.protocol.errors import (
    AuthenticationFailed,
    Duplicate,
    MalformedMessage,
    NoSession,
    NotForThisDevice,
    TooManySkipped,
    UnknownPreKey,
)
from tui_omemo.protocol.results import SkipReason
from tui_omemo.protocol.versions import version_for

NAMESPACES = list(Namespace)
ALICE, BOB = "alice@example.org", "bob@example.org"


@dataclasses.dataclass
class World:
    directory: MemoryDirectory
    alice: FakeDevice
    bob: FakeDevice
    bob2: FakeDevice


@pytest.fixture
async def world() -> World:
    directory = MemoryDirectory()
    return World(
        directory,
        await FakeDevice.create(ALICE, directory),
        await FakeDevice.create(BOB, directory),
        await FakeDevice.create(BOB, directory),
    )


def only_key_for(element: EncryptedElement, device: FakeDevice) -> EncryptedElement:
    """The element as if only `device`'s key were in it (what a lost copy elsewhere means)."""
    key = element.key_for(device.engine.device_id)
    assert key is not None
    return dataclasses.replace(element, keys=(key,))


def replace_key(element: EncryptedElement, device: FakeDevice, data: bytes) -> EncryptedElement:
    keys = tuple(
        KeyElement(k.bare_jid, k.device_id, data, k.key_exchange)
        if k.device_id == device.engine.device_id
        else k
        for k in element.keys
    )
    return dataclasses.replace(element, keys=keys)


async def confirmed_session(world: World, namespace: Namespace) -> None:
    """Alice → Bob (key exchange), Bob → Alice: the session is confirmed both ways."""
    first = await world.alice.send(namespace, [BOB], b"hello")
    await world.bob.receive(first.element, ALICE)
    reply = await world.bob.send(namespace, [ALICE], b"hi")
    await world.alice.receive(reply.element, BOB)


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_first_message_reaches_both_of_bobs_devices(world: World, namespace: Namespace):
    result = await world.alice.send(namespace, [BOB], b"hello")
    assert {k.device_id for k in result.element.keys} == {
        world.bob.engine.device_id,
        world.bob2.engine.device_id,
    }
    assert all(k.key_exchange for k in result.element.keys)
    assert set(result.new_sessions) == {world.bob.ref, world.bob2.ref}
    assert not result.skipped
    for device in (world.bob, world.bob2):
        got = await device.receive(result.element, ALICE)
        assert got.plaintext == b"hello"
        assert got.key_exchange
        assert got.pre_key_consumed
        assert got.send_empty_message
        assert got.sender == world.alice.ref
        assert got.sender_identity_key == world.alice.engine.identity_key
        assert len(got.sender_identity_key) == 32
    if namespace is Namespace.LEGACY:
        assert result.element.iv is not None
        assert len(result.element.iv) == 12
        assert all(k.bare_jid == BOB for k in result.element.keys)
    else:
        assert result.element.iv is None


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_own_other_devices_get_keys_and_this_device_never(world: World, namespace):
    result = await world.bob.send(namespace, [ALICE], b"from bob")
    ids = {k.device_id for k in result.element.keys}
    assert ids == {world.alice.engine.device_id, world.bob2.engine.device_id}
    got = await world.bob2.receive(result.element, BOB)
    assert got.plaintext == b"from bob"
    with pytest.raises(NotForThisDevice):
        await world.bob.engine.decrypt(result.element, BOB)


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_reply_confirms_and_stops_key_exchanges(world: World, namespace: Namespace):
    first = await world.alice.send(namespace, [BOB], b"1")
    await world.bob.receive(first.element, ALICE)
    reply = await world.bob.send(namespace, [ALICE], b"2")
    key = reply.element.key_for(world.alice.engine.device_id)
    assert key is not None
    assert not key.key_exchange
    assert (await world.alice.receive(reply.element, BOB)).plaintext == b"2"
    third = await world.alice.send(namespace, [DeviceRef(BOB, world.bob.engine.device_id)], b"3")
    key = third.element.key_for(world.bob.engine.device_id)
    assert key is not None
    assert not key.key_exchange
    info = await world.alice.engine.session_info(namespace, world.bob.ref)
    assert info is not None
    assert info.confirmed
    assert info.active
    assert (await world.bob.receive(third.element, ALICE)).plaintext == b"3"


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_out_of_order_and_lost_messages(world: World, namespace: Namespace):
    await confirmed_session(world, namespace)
    sent = [await world.alice.send(namespace, [BOB], f"m{i}".encode()) for i in range(6)]
    # m1 is lost for good; the rest arrive shuffled
    for index in (5, 2, 0, 4, 3):
        got = await world.bob.receive(sent[index].element, ALICE)
        assert got.plaintext == f"m{index}".encode()
        assert not got.key_exchange


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_dh_ratchet_steps_over_many_rounds(world: World, namespace: Namespace):
    await confirmed_session(world, namespace)
    for round_ in range(5):
        a = await world.alice.send(namespace, [BOB], f"a{round_}".encode())
        assert (await world.bob.receive(a.element, ALICE)).plaintext == f"a{round_}".encode()
        b = await world.bob.send(namespace, [ALICE], f"b{round_}".encode())
        assert (await world.alice.receive(b.element, BOB)).plaintext == f"b{round_}".encode()
        info = await world.alice.engine.session_info(namespace, world.bob.ref)
        assert info is not None
        assert info.receiving_chain_length == 1  # a fresh receiving chain after each step
    # a message from an older chain, delivered late, still decrypts
    late = await world.alice.send(namespace, [BOB], b"late")
    newer = await world.alice.send(namespace, [BOB], b"newer")
    await world.bob.receive(newer.element, ALICE)
    b = await world.bob.send(namespace, [ALICE], b"step")
    await world.alice.receive(b.element, BOB)
    assert (await world.bob.receive(late.element, ALICE)).plaintext == b"late"


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_empty_messages(world: World, namespace: Namespace):
    first = await world.alice.send(namespace, [BOB], b"hello")
    got = await world.bob.receive(first.element, ALICE)
    assert got.send_empty_message
    empty = await world.bob.send(namespace, [got.sender], None)
    assert empty.element.payload is None
    assert [k.device_id for k in empty.element.keys] == [world.alice.engine.device_id]
    assert (empty.element.iv is not None) is (namespace is Namespace.LEGACY)
    received = await world.alice.receive(empty.element, BOB)
    assert received.plaintext is None
    assert not received.send_empty_message
    info = await world.alice.engine.session_info(namespace, world.bob.ref)
    assert info is not None
    assert info.confirmed


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_empty_messages_need_no_trust(world: World, namespace: Namespace):
    def distrust(device, key):
        return TrustLevel.DISTRUSTED

    empty = await world.alice.send(namespace, [world.bob.ref], None, trust=distrust)
    assert [k.device_id for k in empty.element.keys] == [world.bob.engine.device_id]
    assert (await world.bob.receive(empty.element, ALICE)).plaintext is None


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_repeated_key_exchange_reuses_the_session(world: World, namespace: Namespace):
    sent = [await world.alice.send(namespace, [BOB], f"k{i}".encode()) for i in range(3)]
    assert all(k.key_exchange for s in sent for k in s.element.keys)
    first = await world.bob.receive(sent[0].element, ALICE)
    assert first.key_exchange
    assert first.pre_key_consumed
    x3dh_state = world.bob.store.data[f"x3dh/{namespace.label}"]
    # same ephemeral key: decrypted with the existing session, no prekey needed or used
    second = await world.bob.receive(sent[2].element, ALICE)
    assert second.plaintext == b"k2"
    assert not second.key_exchange
    assert not second.pre_key_consumed
    assert second.send_empty_message  # we still have not answered
    assert world.bob.store.data[f"x3dh/{namespace.label}"] == x3dh_state
    await world.bob.send(namespace, [world.alice.ref], None)
    third = await world.bob.receive(sent[1].element, ALICE)
    assert third.plaintext == b"k1"
    assert not third.send_empty_message  # answered already: no answer loop


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_new_key_exchange_replaces_the_session(world: World, namespace: Namespace):
    await confirmed_session(world, namespace)
    await world.alice.store.commit(
        await world.alice.engine.delete_session(namespace, world.bob.ref)
    )
    fresh = await world.alice.send(namespace, [world.bob.ref], b"rebuilt")
    assert fresh.new_sessions == (world.bob.ref,)
    got = await world.bob.receive(fresh.element, ALICE)
    assert got.plaintext == b"rebuilt"
    assert got.key_exchange


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_heartbeat_flag_from_counter_53(world: World, namespace: Namespace):
    await confirmed_session(world, namespace)  # Alice's next chain starts at counter 0
    sent = [await world.alice.send(namespace, [world.bob.ref], None) for _ in range(55)]
    got = await world.bob.receive(sent[52].element, ALICE)  # counter 52
    assert not got.heartbeat_due
    assert not got.send_empty_message
    got = await world.bob.receive(sent[53].element, ALICE)  # counter 53
    assert got.heartbeat_due
    assert got.send_empty_message
    await world.bob.send(namespace, [world.alice.ref], None)  # the heartbeat
    got = await world.bob.receive(sent[54].element, ALICE)
    assert not got.heartbeat_due


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_at_most_1000_skipped_keys_per_message(world: World, namespace: Namespace):
    await confirmed_session(world, namespace)
    sent = [await world.alice.send(namespace, [world.bob.ref], None) for _ in range(1002)]
    before = world.bob.store.digest()
    with pytest.raises(TooManySkipped):
        await world.bob.engine.decrypt(sent[1001].element, ALICE)  # would skip 1001 keys
    assert world.bob.store.digest() == before
    got = await world.bob.receive(sent[1000].element, ALICE)  # skips exactly 1000
    assert got.plaintext is None
    assert (await world.bob.receive(sent[3].element, ALICE)).plaintext is None


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_failed_decryption_leaves_state_byte_identical(world: World, namespace):
    await confirmed_session(world, namespace)
    good = await world.alice.send(namespace, [world.bob.ref], b"payload")
    key = good.element.key_for(world.bob.engine.device_id)
    assert key is not None
    flipped_mac = key.data[:-1] + bytes([key.data[-1] ^ 1])
    before = world.bob.store.digest()
    bad_elements = [
        (replace_key(good.element, world.bob, flipped_mac), AuthenticationFailed),
        (replace_key(good.element, world.bob, key.data[:10]), MalformedMessage),
        (replace_key(good.element, world.bob, b""), MalformedMessage),
        (dataclasses.replace(good.element, payload=b"\x00" * 32), AuthenticationFailed),
        (dataclasses.replace(good.element, keys=()), NotForThisDevice),
    ]
    for element, error in bad_elements:
        with pytest.raises(error):
            await world.bob.engine.decrypt(element, ALICE)
        assert world.bob.store.digest() == before
    with pytest.raises(NoSession):
        await world.bob.engine.decrypt(good.element, "mallory@example.org")
    assert world.bob.store.digest() == before
    assert (await world.bob.receive(good.element, ALICE)).plaintext == b"payload"
    after = world.bob.store.digest()
    with pytest.raises(Duplicate):
        await world.bob.engine.decrypt(good.element, ALICE)
    assert world.bob.store.digest() == after


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_replayed_key_exchange_after_reset_needs_its_prekey(world: World, namespace):
    first = await world.alice.send(namespace, [world.bob.ref], b"hello")
    await world.bob.receive(first.element, ALICE)
    await world.bob.store.commit(await world.bob.engine.delete_session(namespace, world.alice.ref))
    before = world.bob.store.digest()
    with pytest.raises(UnknownPreKey):  # the prekey was deleted after first use
        await world.bob.engine.decrypt(first.element, ALICE)
    assert world.bob.store.digest() == before


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_uncommitted_changes_are_never_served(world: World, namespace: Namespace):
    await confirmed_session(world, namespace)
    engine = world.alice.engine
    one = await engine.encrypt(namespace, [world.bob.ref], b"x", lambda d, k: TrustLevel.VERIFIED)
    two = await engine.encrypt(namespace, [world.bob.ref], b"y", lambda d, k: TrustLevel.VERIFIED)
    # neither was committed: both came from the same stored chain position
    key_one = one.element.key_for(world.bob.engine.device_id)
    key_two = two.element.key_for(world.bob.engine.device_id)
    assert key_one is not None
    assert key_two is not None
    version = version_for(namespace)
    assert (
        version.parse_message(key_one.data).header.sending_chain_length
        == version.parse_message(key_two.data).header.sending_chain_length
    )


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_skip_reasons(world: World, namespace: Namespace):
    carol = "carol@example.org"
    world.directory.announce(namespace, carol, 4242)  # announced, never published a bundle
    dave = "dave@example.org"
    world.directory.announce(namespace, dave, 7)
    broken = dataclasses.replace(await world.alice.engine.bundle(namespace), pre_keys={})
    world.directory.publish_bundle(dave, 7, broken)

    def decide(device: DeviceRef, key: bytes) -> TrustLevel:
        if device == world.bob2.ref:
            return TrustLevel.DISTRUSTED
        if device == world.bob.ref:
            return TrustLevel.UNDECIDED
        return TrustLevel.BLINDLY_TRUSTED

    result = await world.alice.send(
        namespace,
        [BOB, carol, dave, "nobody@example.org", DeviceRef(BOB, 99)],
        b"hi",
        trust=decide,
    )
    assert dict(result.skipped) == {
        world.bob.ref: SkipReason.UNDECIDED,
        world.bob2.ref: SkipReason.UNTRUSTED,
        DeviceRef(carol, 4242): SkipReason.NO_BUNDLE,
        DeviceRef(dave, 7): SkipReason.INVALID_BUNDLE,
        DeviceRef("nobody@example.org", 0): SkipReason.NO_DEVICES,
        DeviceRef(BOB, 99): SkipReason.INACTIVE,
    }
    assert result.element.keys == ()
    assert not result.changes  # no session was built for anyone


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_skipped_keys_live_outside_the_session_value(world: World, namespace: Namespace):
    await confirmed_session(world, namespace)
    sent = [await world.alice.send(namespace, [world.bob.ref], None) for _ in range(300)]
    await world.bob.receive(sent[-1].element, ALICE)
    alice_id = world.alice.engine.device_id
    session = world.bob.store.data[f"session/{namespace.label}/{ALICE}/{alice_id}"]
    assert session["ratchet"]["skipped_message_keys"] == []
    skipped = [k for k in world.bob.store.data if k.startswith(f"skipped/{namespace.label}/")]
    assert len(skipped) == 299
    await world.bob.receive(sent[10].element, ALICE)
    remaining = [k for k in world.bob.store.data if k.startswith(f"skipped/{namespace.label}/")]
    assert len(remaining) == 298  # a used skipped key is deleted with the decryption
    with pytest.raises(Duplicate):
        await world.bob.engine.decrypt(sent[10].element, ALICE)


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_at_most_1000_skipped_keys_per_session_oldest_evicted(world: World, namespace):
    await confirmed_session(world, namespace)
    sent = [await world.alice.send(namespace, [world.bob.ref], None) for _ in range(1200)]
    await world.bob.receive(sent[600].element, ALICE)  # 600 skipped
    await world.bob.receive(sent[1199].element, ALICE)  # 598 more: 198 oldest evicted
    skipped = [k for k in world.bob.store.data if k.startswith(f"skipped/{namespace.label}/")]
    assert len(skipped) == 1000
    with pytest.raises(Duplicate):
        await world.bob.engine.decrypt(sent[0].element, ALICE)
    assert (await world.bob.receive(sent[198].element, ALICE)).plaintext is None
    await world.bob.store.commit(await world.bob.engine.delete_session(namespace, world.alice.ref))
    assert not [k for k in world.bob.store.data if k.startswith("skipped")]


async def test_core_settings_from_app_settings():
    from types import SimpleNamespace

    from tui_omemo.protocol.settings import CoreSettings

    app = SimpleNamespace(
        signed_prekey_keep=5,
        complete_session_with_empty_message=False,
        renew_signed_prekey_after_hours=48,
        unrelated=True,
    )
    core = CoreSettings.from_settings(app)
    assert (core.renew_signed_prekey_keep, core.complete_session_with_empty_message) == (5, False)
    assert core.renew_signed_prekey_after_hours == 48
    assert core.max_skipped_message_keys == 1000


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_later_key_exchange_first_then_earlier_ones(world: World, namespace: Namespace):
    """Like Conversations' key exchange with counter 2: the session starts from a later message,
    and the earlier key exchanges (same ephemeral key) decrypt with skipped keys afterwards."""
    sent = [await world.alice.send(namespace, [world.bob.ref], f"k{i}".encode()) for i in range(3)]
    got = await world.bob.receive(sent[2].element, ALICE)
    assert got.plaintext == b"k2"
    assert got.key_exchange
    for index in (0, 1):
        got = await world.bob.receive(sent[index].element, ALICE)
        assert got.plaintext == f"k{index}".encode()
        assert not got.key_exchange
    assert not [k for k in world.bob.store.data if k.startswith("skipped/")]


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_rebuild_session_is_one_unit_of_work(world: World, namespace: Namespace):
    await confirmed_session(world, namespace)
    before = world.alice.store.digest()
    result = await world.alice.engine.rebuild_session(namespace, world.bob.ref)
    assert world.alice.store.digest() == before  # nothing written until committed
    assert result.new_sessions == (world.bob.ref,)
    assert result.element.payload is None
    assert [k.key_exchange for k in result.element.keys] == [True]
    await world.alice.store.commit(result.changes)
    got = await world.bob.receive(result.element, ALICE)
    assert got.plaintext is None
    assert got.key_exchange
    follow = await world.bob.send(namespace, [ALICE], b"after reset")
    assert (await world.alice.receive(follow.element, BOB)).plaintext == b"after reset"
