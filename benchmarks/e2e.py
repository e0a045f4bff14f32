"""End-to-end benchmark: two of our services over a loopback Prosody, encrypted vs plain.

Run on demand: ``python -m benchmarks.e2e [--round-trips N] [--messages N] [--catch-up N]``.

Measured:

- round-trip latency: Alice sends, Bob's service archives and emits it, Bob answers, Alice's
  service archives and emits the answer (median and p95), OMEMO 2 and plaintext;
- throughput: Alice sends N messages back to back, until Bob has archived all of them;
- MAM catch-up: Bob is offline while Alice sends N encrypted messages; on restart, the time
  until all N are archived, and the longest stretch the event loop was blocked meanwhile
  (a 1 ms ticker measures how late it wakes up; DESIGN.md §6 wants every step < 50 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.prosody import ProsodyServer
from tests.store.conftest import DictKeyring
from tui_omemo.model import Namespace
from tui_omemo.service.api import MessageReceived
from tui_omemo.service.app_service import OmemoChatService
from tui_omemo.service.xmpp_adapter import SlixmppTransport, connect_client
from tui_omemo.store import Database, KeyringKeys, open_profile


class Peer:
    """One running account with a queue of the messages its service emitted."""

    def __init__(self, jid: str, password: str, directory: Path, database: Database,
                 client: Any, service: OmemoChatService) -> None:
        self.jid, self.password, self.directory = jid, password, directory
        self.database, self.client, self.service = database, client, service
        self.messages: asyncio.Queue[MessageReceived] = asyncio.Queue()
        self._pump = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        async for event in self.service.events():
            if isinstance(event, MessageReceived):
                self.messages.put_nowait(event)

    async def stop(self) -> None:
        self._pump.cancel()
        await self.service.close()
        self.client.disconnect()
        await asyncio.sleep(0.1)
        self.database.close()


async def start_peer(server: ProsodyServer, account: tuple[str, str], directory: Path,
                     keyring: DictKeyring, *, start: bool = True) -> Peer:
    keys = KeyringKeys(keyring, service=f"tui-omemo-bench-{directory.name}")
    database = await asyncio.to_thread(open_profile, directory, keys)
    client = await connect_client(account[0], account[1], server.host, server.port,
                                  allow_plaintext_loopback=True)
    service = await OmemoChatService.create(database, SlixmppTransport(client))
    peer = Peer(account[0], account[1], directory, database, client, service)
    if start:
        await service.start()
    return peer


async def round_trips(alice: Peer, bob: Peer, count: int, *, plain: bool) -> list[float]:
    times = []
    for n in range(count):
        began = time.perf_counter()
        await alice.service.send(bob.jid, f"ping {n}", allow_plaintext=plain)
        await bob.messages.get()
        await bob.service.send(alice.jid, f"pong {n}", allow_plaintext=plain)
        await alice.messages.get()
        times.append((time.perf_counter() - began) * 1000)
    return times


async def throughput(alice: Peer, bob: Peer, count: int, *, plain: bool) -> float:
    began = time.perf_counter()
    for n in range(count):
        await alice.service.send(bob.jid, f"burst {n}", allow_plaintext=plain)
    for _ in range(count):
        await bob.messages.get()
    return count / (time.perf_counter() - began)


class LoopLag:
    """The longest delay past a 1 ms sleep: how long the loop was blocked at most."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task = asyncio.create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            began = time.perf_counter()
            await asyncio.sleep(0.001)
            self.worst = max(self.worst, time.perf_counter() - began - 0.001)

    def stop(self) -> float:
        self._task.cancel()
        return self.worst * 1000


async def catch_up(server: ProsodyServer, alice: Peer, bob: Peer, keyring: DictKeyring,
                   count: int) -> tuple[float, float, Peer]:
    await bob.stop()
    for n in range(count):
        await alice.service.send(bob.jid, f"while away {n}")
    await asyncio.sleep(1.0)
    bob2 = await start_peer(server, (bob.jid, bob.password), bob.directory, keyring,
                            start=False)
    lag = LoopLag()
    began = time.perf_counter()
    await bob2.service.start()
    for _ in range(count):
        await bob2.messages.get()
    elapsed = time.perf_counter() - began
    return elapsed, lag.stop(), bob2


def summary(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return f"{name:28} median {statistics.median(times):7.1f} ms   p95 {p95:7.1f} ms"


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        server = ProsodyServer.start(root / "prosody")
        keyring = DictKeyring()
        peers: list[Peer] = []
        try:
            alice = await start_peer(server, server.create_account(), root / "alice", keyring)
            bob = await start_peer(server, server.create_account(), root / "bob", keyring)
            peers += [alice, bob]
            await alice.service.set_chat_version(bob.jid, Namespace.V2)
            await round_trips(alice, bob, 3, plain=False)  # sessions built, warm
            encrypted = await round_trips(alice, bob, args.round_trips, plain=False)
            plain = await round_trips(alice, bob, args.round_trips, plain=True)
            print(summary("round trip, OMEMO 2", encrypted))
            print(summary("round trip, plaintext", plain))
            await alice.service.set_chat_version(bob.jid, Namespace.V2)
            rate_encrypted = await throughput(alice, bob, args.messages, plain=False)
            rate_plain = await throughput(alice, bob, args.messages, plain=True)
            print(f"{'throughput, OMEMO 2':28} {rate_encrypted:7.1f} msg/s")
            print(f"{'throughput, plaintext':28} {rate_plain:7.1f} msg/s")
            elapsed, worst, bob2 = await catch_up(server, alice, bob, keyring, args.catch_up)
            peers = [alice, bob2]
            print(f"{'MAM catch-up':28} {args.catch_up} messages in {elapsed:6.2f} s "
                  f"({args.catch_up / elapsed:6.1f} msg/s); longest loop block {worst:6.1f} ms")
        finally:
            for peer in peers:
                await peer.stop()
            server.stop()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=30)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--catch-up", type=int, default=1000)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
