"""Protocol benchmark: our `Engine` beside python-omemo (oldmemo / twomemo), as ratios.

Run on demand from the repository root: ``python -m benchmarks.protocol [--quick]``.

Both sides run on the same machine, in the same process, on the same in-memory storage kind:
ours on the fakes of `devtools/fakes.py` (`FakeDevice`), python-omemo through the interop
harness of `devtools/peers.py`. Measured, per OMEMO version where it applies:

- device creation (identity, signed prekey, 100 prekeys; both namespaces for both sides);
- the first message to a new device (active X3DH + first ratchet message), and its first
  passive decryption (X3DH + ratchet; repeated on the same state, nothing committed);
- a steady-state message to 1, 10 and 100 devices (sessions exist; ours includes the commit
  of the new state, theirs the session loads and stores);
- decrypting one message on an established session;
- stored bytes per session;
- raw primitive costs (X25519, HKDF, HMAC, AES), which bound what any Python OMEMO can reach.

- decrypting the next message while many skipped message keys are held (the cost must not grow
  with their number).

Every row is the median over several rounds (each round the mean of `repeat` calls), in
milliseconds, beside python-omemo's and the ratio ours / python-omemo (below 1: we are faster or
smaller). Both sides keep their state in a dict that copies JSON values both ways with the same
function, `devtools.fakes.json_copy` (our `MemoryStateStore`, python-omemo's `Storage` with caching
disabled); that copying stands in for a real database and is not protocol work, so it is timed
separately and a second set of columns ("without store") shows each side with it taken out. A
real store pays its own cost instead (for us: one SQLCipher row per key, see
`benchmarks/store.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from devtools.fakes import FakeDevice, MemoryDirectory, MemoryStateStore, trust_everyone
from devtools.peers import MemoryStorage, Peer
from tui_omemo.model import DeviceRef, Namespace
from tui_omemo.protocol.ports import JsonObject

US, THEM = "us@example.org", "them@example.net"
SKIPPED = 500
BODY = b"A message of a typical length, about sixty bytes of UTF-8 text."

Timed = Callable[[], Awaitable[Any]]
ROUNDS = 5


class StoreClock:
    """Seconds spent inside the in-memory stores of both sides (deep copies of JSON values)."""

    spent = 0.0


class TimedStateStore(MemoryStateStore):
    """Our `MemoryStateStore`, with its time counted on `StoreClock`."""

    async def load(self, key: str) -> JsonObject | None:
        start = time.perf_counter()
        try:
            return await super().load(key)
        finally:
            StoreClock.spent += time.perf_counter() - start

    async def store(self, key: str, value: JsonObject) -> None:
        start = time.perf_counter()
        try:
            await super().store(key, value)
        finally:
            StoreClock.spent += time.perf_counter() - start

    async def delete(self, key: str) -> None:
        start = time.perf_counter()
        try:
            await super().delete(key)
        finally:
            StoreClock.spent += time.perf_counter() - start


class TimedStorage(MemoryStorage):
    """python-omemo's storage of the interop harness, with its time counted on `StoreClock`."""

    async def _load(self, key: str) -> Any:
        start = time.perf_counter()
        try:
            return await super()._load(key)
        finally:
            StoreClock.spent += time.perf_counter() - start

    async def _store(self, key: str, value: Any) -> None:
        start = time.perf_counter()
        try:
            await super()._store(key, value)
        finally:
            StoreClock.spent += time.perf_counter() - start

    async def _delete(self, key: str) -> None:
        start = time.perf_counter()
        try:
            await super()._delete(key)
        finally:
            StoreClock.spent += time.perf_counter() - start


async def our_device(bare_jid: str, directory: MemoryDirectory, publish: bool = True) -> FakeDevice:
    """An engine on a timed in-memory store."""
    return await FakeDevice.create(bare_jid, directory, TimedStateStore(), publish=publish)


async def their_device(namespace: Namespace, bare_jid: str, device_id: int, pre_keys: int) -> Peer:
    """A python-omemo device on a timed in-memory storage."""
    return await Peer.create(namespace, bare_jid, device_id, pre_keys, TimedStorage())


async def per_call(action: Timed, repeat: int) -> tuple[float, float]:
    """The mean time of one call over `repeat` calls, and the same without the time spent in
    the in-memory store, in milliseconds."""
    store_before = StoreClock.spent
    start = time.perf_counter()
    for _ in range(repeat):
        await action()
    elapsed = time.perf_counter() - start
    core = elapsed - (StoreClock.spent - store_before)
    return elapsed * 1000 / repeat, core * 1000 / repeat


Pair = tuple[float, float]


async def compare(ours: Timed, theirs: Timed, repeat: int) -> tuple[Pair, Pair]:
    """Both sides measured in alternating rounds (so that load from other processes hits both
    alike); the median round of each, with and without the store."""
    await ours()
    await theirs()  # warm-up
    rounds: list[tuple[Pair, Pair]] = []
    for _ in range(ROUNDS):
        rounds.append((await per_call(ours, repeat), await per_call(theirs, repeat)))

    def median(side: int, part: int) -> float:
        return statistics.median(pair[side][part] for pair in rounds)

    return (median(0, 0), median(0, 1)), (median(1, 0), median(1, 1))


def _ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:>6.2f}×" if theirs else "    n/a"


def row(name: str, measured: tuple[Pair, Pair]) -> None:
    """One line: total ms (ours, theirs, ratio), then the same without the store's time."""
    ours, theirs = measured
    print(
        f"  {name:<42} {ours[0]:>9.3f} {theirs[0]:>9.3f} {_ratio(ours[0], theirs[0])}"
        f"   {ours[1]:>9.3f} {theirs[1]:>9.3f} {_ratio(ours[1], theirs[1])}"
    )


def size_row(name: str, ours: float, theirs: float) -> None:
    print(f"  {name:<42} {ours:>9.0f} {theirs:>9.0f} {_ratio(ours, theirs)}   (bytes)")


def header(title: str) -> None:
    print(f"\n{title}")
    print(
        f"  {'':<42} {'ours ms':>9} {'theirs':>9} {'ratio':>7}   "
        f"{'ours ms':>9} {'theirs':>9} {'ratio':>7}"
    )
    print(
        f"  {'':<42} {'--- total, with the in-memory store ---':>27}   "
        f"{'--- without the store ---':>27}"
    )


async def bench_creation(repeat: int) -> None:
    header("device creation (both namespaces, 100 prekeys each)")

    async def ours() -> None:
        await our_device(US, MemoryDirectory(), publish=False)

    async def ours_published() -> None:
        created = await our_device(US, MemoryDirectory(), publish=False)
        for namespace in Namespace:
            await created.engine.bundle(namespace)

    async def theirs() -> None:
        storage = TimedStorage()
        await Peer.create(Namespace.LEGACY, US, 1, pre_keys=100, storage=storage)
        await Peer.create(Namespace.V2, US, 1, pre_keys=100, storage=storage)

    async def theirs_published() -> None:
        storage = TimedStorage()
        for namespace in Namespace:
            created = await Peer.create(namespace, US, 1, pre_keys=100, storage=storage)
            await created.backend.get_bundle(US, 1)

    row("create", await compare(ours, theirs, repeat))
    row(
        "create, then both bundles (to publish)",
        await compare(ours_published, theirs_published, repeat),
    )


async def bench_first_message(namespace: Namespace, repeat: int) -> None:
    """Active session building + first message; then the passive side's first decryption."""
    directory = MemoryDirectory()
    sender = await our_device(US, directory)
    target = await their_device(namespace, THEM, 7, pre_keys=100)
    bundle = await target.bundle()
    directory.publish(THEM, 7, bundle)
    their_sender = await their_device(namespace, US, 8, pre_keys=25)

    async def ours_active() -> None:
        await sender.engine.encrypt(namespace, [THEM], BODY, trust_everyone)  # not committed

    async def theirs_active() -> None:
        storage = TimedStorage()
        storage.data = dict(their_sender.storage.data)
        fresh = Peer(namespace, US, 8, storage)
        await fresh.encrypt([target.ref], BODY, {target.ref: bundle})

    row(
        "first message to a new device (active)",
        await compare(ours_active, theirs_active, repeat),
    )

    # passive: an engine receives a key exchange from another engine; python-omemo the same
    receiver = await our_device("r@example.org", directory)
    ours_kex = await sender.send_as_received(namespace, [receiver.ref], BODY)
    their_receiver = await their_device(namespace, "r@example.org", 9, pre_keys=100)
    their_kex = await their_sender.encrypt(
        [their_receiver.ref], BODY, {their_receiver.ref: await their_receiver.bundle()}
    )

    async def ours_passive() -> None:
        await receiver.engine.decrypt(ours_kex, US)  # decrypt never writes: repeatable

    async def theirs_passive() -> None:
        key = their_kex.keys[0]
        module: Any = _module(namespace)
        if namespace is Namespace.LEGACY:
            exchange, data = module.KeyExchangeImpl.parse(key.data, False)
        else:
            exchange, data = module.KeyExchangeImpl.parse(key.data)
        encrypted = module.EncryptedKeyMaterialImpl.parse(data, US, 8)
        plain: Any
        _, plain = await their_receiver.backend.build_session_passive(US, 8, exchange, encrypted)
        await their_receiver._decrypt_payload(their_kex, plain.key + plain.auth_tag)

    row(
        "first passive decryption",
        await compare(ours_passive, theirs_passive, repeat),
    )


def _module(namespace: Namespace) -> Any:
    import oldmemo.oldmemo
    import twomemo.twomemo

    return oldmemo.oldmemo if namespace is Namespace.LEGACY else twomemo.twomemo


async def bench_steady(namespace: Namespace, fanouts: list[int], recipients: list[Peer]) -> None:
    """One message to N devices that already have sessions."""
    for count in fanouts:
        directory = MemoryDirectory()
        group = recipients[:count]
        for peer in group:
            directory.publish(THEM, peer.device_id, await peer.bundle())
        sender = await our_device(US, directory)
        await sender.send(namespace, [THEM], BODY)  # builds and commits every session
        their_sender = await their_device(namespace, US, 8, pre_keys=25)
        bundles = {peer.ref: await peer.bundle() for peer in group}
        await their_sender.encrypt([p.ref for p in group], BODY, bundles)
        repeat = max(3, 200 // count)

        async def ours(sender: FakeDevice = sender) -> None:
            await sender.send(namespace, [THEM], BODY)  # encrypt + commit

        async def theirs(their_sender: Peer = their_sender, group: list[Peer] = group) -> None:
            await their_sender.encrypt([p.ref for p in group], BODY)

        row(
            f"encrypt to {count} device(s)",
            await compare(ours, theirs, repeat),
        )


async def bench_decrypt_and_size(namespace: Namespace, repeat: int) -> None:
    directory = MemoryDirectory()
    alice = await our_device(US, directory)
    bob = await our_device(THEM, directory)
    await bob.receive(await alice.send_as_received(namespace, [THEM], BODY), US)
    await alice.receive(await bob.send_as_received(namespace, [US], BODY), THEM)
    message = await alice.send_as_received(namespace, [THEM], BODY)

    peer_a = await their_device(namespace, US, 1, pre_keys=25)
    peer_b = await their_device(namespace, THEM, 2, pre_keys=25)
    await peer_b.decrypt(
        await peer_a.encrypt([peer_b.ref], BODY, {peer_b.ref: await peer_b.bundle()}), US
    )
    await peer_a.decrypt(await peer_b.encrypt([peer_a.ref], BODY), THEM)
    their_message = await peer_a.encrypt([peer_b.ref], BODY)
    module = _module(namespace)

    async def ours() -> None:
        await bob.engine.decrypt(message, US)  # nothing committed: repeatable

    async def theirs() -> None:
        session = await peer_b.session(peer_a.ref)  # loaded, never stored back: repeatable
        assert session is not None
        encrypted = module.EncryptedKeyMaterialImpl.parse(their_message.keys[0].data, US, 1)
        plain: Any = await peer_b.backend.decrypt_key_material(session, encrypted)
        await peer_b._decrypt_payload(their_message, plain.key + plain.auth_tag)

    row(
        "decrypt one message (established session)",
        await compare(ours, theirs, repeat),
    )

    async def ours_next() -> None:
        await bob.engine.decrypt(following, US)

    async def theirs_next() -> None:
        session = await peer_b.session(peer_a.ref)
        assert session is not None
        encrypted = module.EncryptedKeyMaterialImpl.parse(their_following.keys[0].data, US, 1)
        plain: Any = await peer_b.backend.decrypt_key_material(session, encrypted)
        await peer_b._decrypt_payload(their_following, plain.key + plain.auth_tag)

    await bob.receive(message, US)
    await peer_b.decrypt(their_message, US)
    following = await alice.send_as_received(namespace, [THEM], BODY)
    their_following = await peer_a.encrypt([peer_b.ref], BODY)
    row("decrypt the next message of the same chain", await compare(ours_next, theirs_next, repeat))
    for _ in range(SKIPPED):  # sent, never delivered: the receivers keep their message keys
        await alice.send(namespace, [THEM], BODY)
        await peer_a.encrypt([peer_b.ref], BODY)
    following = await alice.send_as_received(namespace, [THEM], BODY)
    their_following = await peer_a.encrypt([peer_b.ref], BODY)
    await bob.receive(following, US)
    await peer_b.decrypt(their_following, US)
    following = await alice.send_as_received(namespace, [THEM], BODY)
    their_following = await peer_a.encrypt([peer_b.ref], BODY)
    row(
        f"… with {SKIPPED} skipped message keys held", await compare(ours_next, theirs_next, repeat)
    )
    ours_bytes = session_bytes(bob.store, namespace, alice.ref)
    prefix = f"/{namespace.value}/{US}/1/"
    theirs_bytes = sum(
        len(json.dumps(value))
        for key, value in peer_b.storage.data.items()
        if key.startswith(prefix)
    )
    size_row(f"state bytes per session ({SKIPPED} skipped keys)", ours_bytes, theirs_bytes)


def session_bytes(store: MemoryStateStore, namespace: Namespace, device: DeviceRef) -> float:
    """Bytes of the JSON values stored for one session: `session/<ns>/<jid>/<id>` and any value
    kept beside it under the same path (skipped message keys)."""
    path = f"/{namespace.label}/{device.bare_jid}/{device.device_id}"
    keys = [key for key in store.data if path in key]
    return float(sum(len(json.dumps(store.data[key])) for key in keys))


def bench_primitives(repeat: int) -> None:
    print("\nraw primitives (cryptography), microseconds per call")
    key32, data = os.urandom(32), os.urandom(64)
    private, public = X25519PrivateKey.generate(), X25519PrivateKey.generate().public_key()

    def timed(action: Callable[[], object]) -> float:
        start = time.perf_counter()
        for _ in range(repeat):
            action()
        return (time.perf_counter() - start) * 1e6 / repeat

    def hkdf() -> bytes:
        return HKDF(hashes.SHA256(), 80, b"\x00" * 32, b"OMEMO Payload").derive(key32)

    def mac() -> bytes:
        h = hmac.HMAC(key32, hashes.SHA256())
        h.update(data)
        return h.finalize()

    def cbc() -> bytes:
        enc = Cipher(algorithms.AES(key32), modes.CBC(key32[:16])).encryptor()
        return enc.update(data) + enc.finalize()

    gcm = AESGCM(key32[:16])
    results = {
        "X25519 exchange": timed(lambda: private.exchange(public)),
        "X25519 key generation": timed(X25519PrivateKey.generate),
        "HKDF-SHA-256 (80 B)": timed(hkdf),
        "HMAC-SHA-256 (64 B)": timed(mac),
        "AES-256-CBC (64 B)": timed(cbc),
        "AES-128-GCM (64 B)": timed(lambda: gcm.encrypt(key32[:12], data, None)),
    }
    for name, value in results.items():
        print(f"  {name:<44} {value:>10.2f} µs")


async def main(quick: bool) -> None:
    repeat = 3 if quick else 10
    fanouts = [1, 10] if quick else [1, 10, 100]
    print(
        f"tui-omemo protocol benchmark (ms per operation, median of {ROUNDS} rounds; "
        "ratio = ours / python-omemo)"
    )
    await bench_creation(repeat=2 if quick else 5)
    for namespace in Namespace:
        header(f"OMEMO {namespace.label}")
        await bench_first_message(namespace, repeat)
        recipients = [
            await their_device(namespace, THEM, 100 + i, pre_keys=25) for i in range(max(fanouts))
        ]
        await bench_steady(namespace, fanouts, recipients)
        await bench_decrypt_and_size(namespace, repeat * 5)
    bench_primitives(2000)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer repetitions, no 100-device case"
    )
    asyncio.run(main(parser.parse_args().quick))
