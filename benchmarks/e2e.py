"""End-to-end benchmark: two of our services over a loopback Prosody, encrypted vs plain.

Run on demand: ``python -m benchmarks.e2e [--round-trips N] [--messages N] [--catch-up N]``.

Measured:

- the issue's baseline, plain slixmpp: two bare `slixmpp.ClientXMPP` clients (no service, no
  database, no plugins), round trip and pipelined throughput;
- round-trip latency: Alice sends, Bob's service archives and emits it, Bob answers, Alice's
  service archives and emits the answer (median and p95), OMEMO 2 and plaintext through our
  service;
- throughput, pipelined: Alice sends N messages back to back without waiting for Bob; the
  clock stops when Bob's service has archived (and emitted) all N;
- MAM catch-up: Bob is offline while Alice sends N encrypted messages; on restart, the time
  until all N are archived, and the longest stretch the event loop was blocked meanwhile
  (a 1 ms ticker measures how late it wakes up; DESIGN.md §6 wants every step < 50 ms),
  plus the longest single loop step timed directly, in wall and in thread CPU time (the
  ticker and the wall time also count the moments another process had our core).

Both sides run on one event loop in this process (as the issue's baseline did), so Alice's
encryption and Bob's decryption share one core's worth of Python. Next to wall-clock numbers
the process CPU time per message / round trip is printed (both peers, all threads): on a
loaded machine wall time measures the neighbours, CPU time still measures us.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import slixmpp

from tests.prosody import ProsodyServer
from tests.store.conftest import DictKeyring
from tui_omemo.model import Namespace
from tui_omemo.service.api import MessageReceived
from tui_omemo.service.app_service import OmemoChatService
from tui_omemo.service.xmpp_adapter import XmppTransport
from tui_omemo.store import Database, KeyringKeys, open_profile
from tui_omemo.xmpp.client import XmppClient


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
    xmpp = XmppClient(account[0], account[1], host=server.host, port=server.port,
                      allow_plaintext_loopback=True, reconnect=False)
    await xmpp.connect(announce=False)
    service = await OmemoChatService.create(database, XmppTransport(xmpp))
    # Peer.stop disconnects the slixmpp stream itself (no reconnect: reconnect=False)
    peer = Peer(account[0], account[1], directory, database, xmpp.stream, service)
    if start:
        await service.start()
    return peer


class BarePeer:
    """The issue's baseline: a bare slixmpp client (no service, no store, no plugins) that
    queues the body of every chat message it receives."""

    def __init__(self, jid: str, client: slixmpp.ClientXMPP) -> None:
        self.jid, self.client = jid, client
        self.bodies: asyncio.Queue[str] = asyncio.Queue()
        client.add_event_handler("message", self._on_message)

    def _on_message(self, message: Any) -> None:
        self.bodies.put_nowait(str(message["body"]))

    def send(self, to: str, body: str) -> None:
        """Hand one chat message to the stream (no await: slixmpp writes it at once)."""
        self.client.send_message(mto=slixmpp.JID(to), mbody=body, mtype="chat")

    async def stop(self) -> None:
        await asyncio.wait_for(self.client.disconnect(), 5)


async def start_bare(server: ProsodyServer, account: tuple[str, str]) -> BarePeer:
    """Log in a bare slixmpp client over plaintext loopback and send initial presence."""
    client = slixmpp.ClientXMPP(account[0], account[1])
    client.enable_direct_tls = False
    client.enable_starttls = False
    client.enable_plaintext = True
    plugins: Any = client.plugin
    plugins["feature_mechanisms"].unencrypted_scram = True
    started: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_start(_event: object) -> None:
        if not started.done():
            started.set_result(None)

    client.add_event_handler("session_start", on_start)
    client.connect(server.host, server.port)
    await asyncio.wait_for(started, 20)
    client.send_presence()
    peer = BarePeer(account[0], client)
    await asyncio.sleep(0.2)  # the server marks the resource available before messages go
    return peer


async def bare_round_trips(alice: BarePeer, bob: BarePeer, count: int) -> list[float]:
    times = []
    for n in range(count):
        began = time.perf_counter()
        alice.send(bob.jid, f"ping {n}")
        await bob.bodies.get()
        bob.send(alice.jid, f"pong {n}")
        await alice.bodies.get()
        times.append((time.perf_counter() - began) * 1000)
    return times


async def bare_throughput(alice: BarePeer, bob: BarePeer, count: int) -> float:
    """Alice writes `count` messages back to back; until Bob has received all of them."""
    began = time.perf_counter()
    for n in range(count):
        alice.send(bob.jid, f"burst {n}")
    for _ in range(count):
        await bob.bodies.get()
    return count / (time.perf_counter() - began)


async def plain_slixmpp(server: ProsodyServer,
                        args: argparse.Namespace) -> tuple[list[float], float]:
    """The baseline the issue's targets are ratios of: round trips (ms) and msg/s."""
    alice = await start_bare(server, server.create_account())
    bob = await start_bare(server, server.create_account())
    try:
        await bare_round_trips(alice, bob, 3)
        times = await bare_round_trips(alice, bob, args.round_trips)
        rate = await bare_throughput(alice, bob, args.messages)
    finally:
        await alice.stop()
        await bob.stop()
    return times, rate


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
    """Pipelined: Alice's sends follow each other without waiting for Bob (each returns once
    its stanza is written); Bob's service receives, decrypts and archives meanwhile. The clock
    stops when Bob's service has emitted the last message (emitted = archived)."""
    began = time.perf_counter()
    received = asyncio.create_task(_receive(bob, count))
    for n in range(count):
        await alice.service.send(bob.jid, f"burst {n}", allow_plaintext=plain)
    await received
    return count / (time.perf_counter() - began)


async def _receive(peer: Peer, count: int) -> None:
    for _ in range(count):
        await peer.messages.get()


class StepTimer:
    """The longest single event-loop step (one callback or task step), wall and CPU time:
    wraps `asyncio.Handle._run` while installed."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0
        self._original = asyncio.Handle._run
        timer, original = self, self._original

        def timed(handle: asyncio.Handle) -> None:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                original(handle)
            finally:
                timer.wall = max(timer.wall, time.perf_counter() - wall)
                timer.cpu = max(timer.cpu, time.thread_time() - cpu)

        asyncio.Handle._run = timed  # type: ignore[method-assign,assignment]

    def stop(self) -> tuple[float, float]:
        """Uninstall; the longest step in ms (wall, CPU)."""
        asyncio.Handle._run = self._original  # type: ignore[method-assign]
        return self.wall * 1000, self.cpu * 1000


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
                   count: int) -> tuple[float, float, float, tuple[float, float], Peer]:
    await bob.stop()
    for n in range(count):
        await alice.service.send(bob.jid, f"while away {n}")
    await asyncio.sleep(1.0)
    bob2 = await start_peer(server, (bob.jid, bob.password), bob.directory, keyring,
                            start=False)
    lag, steps = LoopLag(), StepTimer()
    began, cpu = time.perf_counter(), cpu_ms()
    await bob2.service.start()
    for _ in range(count):
        await bob2.messages.get()
    elapsed = time.perf_counter() - began
    return elapsed, lag.stop(), cpu_ms() - cpu, steps.stop(), bob2


def cpu_ms() -> float:
    """CPU time of this process so far (every thread), in ms."""
    return time.process_time() * 1000


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
            print(f"load average: {os.getloadavg()[0]:.2f} (2 cores shared)")
            cpu = cpu_ms()
            bare_times, bare_rate = await plain_slixmpp(server, args)
            bare_cpu = (cpu_ms() - cpu) / (2 * args.round_trips + args.messages)
            print(summary("round trip, plain slixmpp", bare_times))
            alice = await start_peer(server, server.create_account(), root / "alice", keyring)
            bob = await start_peer(server, server.create_account(), root / "bob", keyring)
            peers += [alice, bob]
            await alice.service.set_chat_version(bob.jid, Namespace.V2)
            await round_trips(alice, bob, 3, plain=False)  # sessions built, warm
            cpu = cpu_ms()
            encrypted = await round_trips(alice, bob, args.round_trips, plain=False)
            rtt_cpu, cpu = (cpu_ms() - cpu) / args.round_trips, cpu_ms()
            plain = await round_trips(alice, bob, args.round_trips, plain=True)
            plain_rtt_cpu = (cpu_ms() - cpu) / args.round_trips
            print(summary("round trip, OMEMO 2", encrypted))
            print(summary("round trip, plain, service", plain))
            ratio = statistics.median(encrypted) / statistics.median(bare_times)
            print(f"{'  OMEMO 2 / plain slixmpp':28} {ratio:7.1f}x   (target <= 2.5x)")
            print(f"{'  CPU per round trip':28} OMEMO 2 {rtt_cpu:6.2f} ms, plain service "
                  f"{plain_rtt_cpu:6.2f} ms, plain slixmpp ~{2 * bare_cpu:6.2f} ms")
            await alice.service.set_chat_version(bob.jid, Namespace.V2)
            cpu = cpu_ms()
            rate_encrypted = await throughput(alice, bob, args.messages, plain=False)
            encrypted_cpu, cpu = (cpu_ms() - cpu) / args.messages, cpu_ms()
            rate_plain = await throughput(alice, bob, args.messages, plain=True)
            plain_cpu = (cpu_ms() - cpu) / args.messages
            print(f"{'throughput, plain slixmpp':28} {bare_rate:7.1f} msg/s")
            print(f"{'throughput, OMEMO 2':28} {rate_encrypted:7.1f} msg/s   (target >= 800)")
            print(f"{'throughput, plain, service':28} {rate_plain:7.1f} msg/s")
            print(f"{'  CPU per message':28} OMEMO 2 {encrypted_cpu:6.2f} ms (send + receive), "
                  f"plain service {plain_cpu:6.2f} ms, plain slixmpp ~{bare_cpu:6.2f} ms")
            elapsed, worst, busy, step, bob2 = await catch_up(server, alice, bob, keyring,
                                                              args.catch_up)
            peers = [alice, bob2]
            print(f"{'MAM catch-up':28} {args.catch_up} messages in {elapsed:6.2f} s "
                  f"({args.catch_up / elapsed:6.1f} msg/s); longest loop block {worst:6.1f} ms")
            per_message = busy / args.catch_up if args.catch_up else 0.0
            print(f"{'  CPU during catch-up':28} {busy / 1000:6.2f} s "
                  f"({per_message:5.2f} ms per message)")
            print(f"{'  longest loop step':28} {step[0]:6.1f} ms wall, {step[1]:6.1f} ms CPU "
                  "(target < 50 ms)")
        finally:
            for peer in peers:
                await peer.stop()
            server.stop()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=30)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--catch-up", type=int, default=1000)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
