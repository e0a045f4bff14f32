"""End-to-end benchmark: two of our services over a loopback Prosody, encrypted vs plain.

Run on demand: ``python -m benchmarks.e2e [--round-trips N] [--messages N] [--window N]
[--catch-up N]``.

Alice runs in this process; Bob runs in a process of his own (`multiprocessing`, spawned), as
two real clients would on two machines, so each side has one core's worth of Python (the
machine has 2). The baseline is arranged the same way.

Measured:

- the issue's baseline, plain slixmpp: two bare `slixmpp.ClientXMPP` clients (no service, no
  database, no plugins), round trip and pipelined throughput;
- round-trip latency: Alice sends, Bob's service archives and emits it, Bob answers, Alice's
  service archives and emits the answer (median and p95), OMEMO 2 and plaintext through our
  service;
- throughput, pipelined: Alice sends N messages without waiting for Bob, with up to
  `--window` sends in flight at once (default 16; 1: each send waits for the previous one's
  stanza to be written); the clock stops when Bob's service has archived (and emitted) all N;
  also Bob's CPU time and write transactions per received message;
- MAM catch-up: Bob is offline while Alice sends N encrypted messages; on restart, the time
  until all N are archived, and the longest stretch Bob's event loop was blocked meanwhile
  (a 1 ms ticker measures how late it wakes up; DESIGN.md §6 wants every step < 50 ms),
  plus the longest single loop step timed directly, in wall and in thread CPU time.

Next to wall-clock numbers each side's process CPU time per message / round trip is printed
(all threads): on a loaded machine wall time measures the neighbours, CPU time still measures
us. The targets (issue 14) are ratios to plain slixmpp in the same run: OMEMO 2 round trip
<= 4x, pipelined throughput >= 0.45x; and Bob's CPU per received message <= 0.5 ms, longest
catch-up loop step < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import statistics
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import slixmpp

from devtools.keyrings import DictKeyring
from devtools.prosody import ProsodyServer
from tui_omemo.model import Namespace
from tui_omemo.service.api import MessageReceived
from tui_omemo.service.app_service import OmemoChatService
from tui_omemo.store import Database, KeyringKeys, open_profile
from tui_omemo.xmpp.client import XmppClient
from tui_omemo.xmpp.transport import XmppTransport


class Address(Protocol):
    """Where the loopback server listens (a `ProsodyServer`, or an `Endpoint` in Bob's
    process)."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...


class Endpoint(NamedTuple):
    host: str
    port: int


class Peer:
    """One running account with a queue of the messages its service emitted."""

    def __init__(
        self,
        jid: str,
        password: str,
        directory: Path,
        database: Database,
        client: Any,
        service: OmemoChatService,
    ) -> None:
        self.jid, self.password, self.directory = jid, password, directory
        self.database, self.client, self.service = database, client, service
        self.messages: asyncio.Queue[MessageReceived] = asyncio.Queue()
        self.commits = 0
        """Write transactions (`Database.unit_of_work`) the service opened so far."""
        self._pump = asyncio.create_task(self._drain())
        opened = database.unit_of_work

        def counted() -> Any:
            self.commits += 1
            return opened()

        database.unit_of_work = counted  # type: ignore[method-assign]

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


async def start_peer(
    server: Address,
    account: tuple[str, str],
    directory: Path,
    keyring: DictKeyring,
    *,
    start: bool = True,
) -> Peer:
    keys = KeyringKeys(keyring, service=f"tui-omemo-bench-{directory.name}")
    database = await asyncio.to_thread(open_profile, directory, keys)
    xmpp = XmppClient(
        account[0],
        account[1],
        host=server.host,
        port=server.port,
        allow_plaintext_loopback=True,
        reconnect=False,
    )
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
        # slixmpp's send loop outlives the disconnect and is only cancelled when the stream is
        # garbage-collected ("Task was destroyed but it is pending!"): end it here.
        sending: asyncio.Future[None] | None = self.client._run_out_filters
        if sending is not None:
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sending


async def login_bare(server: Address, jid: str, password: str) -> slixmpp.ClientXMPP:
    """A bare slixmpp client (no plugins) logged in over plaintext loopback, with its initial
    presence sent."""
    client = slixmpp.ClientXMPP(jid, password)
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
    return client


async def start_bare(server: Address, account: tuple[str, str]) -> BarePeer:
    """The baseline's client, logged in and ready to receive."""
    peer = BarePeer(account[0], await login_bare(server, *account))
    await asyncio.sleep(0.2)  # the server marks the resource available before messages go
    return peer


# --- Bob's process ---------------------------------------------------------------------------
#
# Bob obeys commands from the pipe, one at a time, and answers each with a tuple:
#   ("echo", peer, n, plain)  -> ("ready",) then, after answering n messages,
#                                ("done", cpu_ms, commits)
#   ("receive", n)            -> ("ready",) then, once n messages arrived, ("done", cpu_ms,
#                                commits); commits: write transactions (0 for bare slixmpp)
#   ("offline",)              -> ("done",)   Bob's service stops, his profile stays
#   ("catch-up", n)           -> ("done", seconds, worst_lag_ms, cpu_ms, step_wall, step_cpu)
#   ("stop",)                 -> ("done",)


def bob_main(
    conn: Connection, server: Endpoint, account: tuple[str, str], directory: str, bare: bool
) -> None:
    """Entry point of Bob's process."""
    asyncio.run(_bob(conn, server, account, Path(directory), bare))


async def _bob(
    conn: Connection, server: Endpoint, account: tuple[str, str], directory: Path, bare: bool
) -> None:
    keyring = DictKeyring()
    bob: Peer | BarePeer
    bob = await (
        start_bare(server, account) if bare else start_peer(server, account, directory, keyring)
    )
    conn.send(("ready",))
    while True:
        command = await asyncio.to_thread(conn.recv)
        if command[0] == "stop":
            await bob.stop()
            conn.send(("done",))
            return
        if command[0] == "offline":
            await bob.stop()
        elif command[0] == "catch-up":
            bob, result = await _catch_up(server, account, directory, keyring, command[1])
            conn.send(("done", *result))
            continue
        else:
            conn.send(("ready",))
            cpu, commits = cpu_ms(), _commits(bob)
            if command[0] == "echo":
                await _echo(bob, command[1], command[2], plain=command[3])
            else:
                await _receive(bob, command[1])
            conn.send(("done", cpu_ms() - cpu, _commits(bob) - commits))
            continue
        conn.send(("done",))


def _commits(peer: Peer | BarePeer) -> int:
    return peer.commits if isinstance(peer, Peer) else 0


async def _next(peer: Peer | BarePeer) -> None:
    if isinstance(peer, BarePeer):
        await peer.bodies.get()
    else:
        await peer.messages.get()


async def _receive(peer: Peer | BarePeer, count: int) -> None:
    for _ in range(count):
        await _next(peer)


async def _echo(peer: Peer | BarePeer, to: str, count: int, *, plain: bool) -> None:
    for n in range(count):
        await _next(peer)
        if isinstance(peer, BarePeer):
            peer.send(to, f"pong {n}")
        else:
            await peer.service.send(to, f"pong {n}", allow_plaintext=plain)


async def _catch_up(
    server: Endpoint, account: tuple[str, str], directory: Path, keyring: DictKeyring, count: int
) -> tuple[Peer, tuple[float, float, float, float, float]]:
    bob = await start_peer(server, account, directory, keyring, start=False)
    lag, steps = LoopLag(), StepTimer()
    began, cpu = time.perf_counter(), cpu_ms()
    await bob.service.start()
    await _receive(bob, count)
    elapsed = time.perf_counter() - began
    busy = cpu_ms() - cpu
    step_wall, step_cpu = steps.stop()
    return bob, (elapsed, lag.stop(), busy, step_wall, step_cpu)


class Remote:
    """Alice's handle on Bob's process."""

    def __init__(
        self, server: Address, account: tuple[str, str], directory: Path, *, bare: bool = False
    ) -> None:
        self.jid = account[0]
        self._conn, child = multiprocessing.get_context("spawn").Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=bob_main,
            args=(child, Endpoint(server.host, server.port), account, str(directory), bare),
            daemon=True,
        )
        self._process.start()

    async def reply(self) -> tuple[Any, ...]:
        """Bob's next answer (raises if his process died)."""
        while not await asyncio.to_thread(self._conn.poll, 1.0):
            if not self._process.is_alive():
                raise RuntimeError(f"Bob's process ended (exit {self._process.exitcode})")
        answer: tuple[Any, ...] = self._conn.recv()
        return answer

    async def ask(self, *command: object) -> tuple[Any, ...]:
        """Send a command; its first answer."""
        self._conn.send(command)
        return await self.reply()

    async def stop(self) -> None:
        if self._process.is_alive():
            await self.ask("stop")
        await asyncio.to_thread(self._process.join, 10)


# --- the measurements, from Alice's side ------------------------------------------------------


async def bare_round_trips(alice: BarePeer, bob: Remote, count: int) -> list[float]:
    await bob.ask("echo", alice.jid, count, True)
    times = []
    for n in range(count):
        began = time.perf_counter()
        alice.send(bob.jid, f"ping {n}")
        await alice.bodies.get()
        times.append((time.perf_counter() - began) * 1000)
    await bob.reply()
    return times


async def bare_throughput(alice: BarePeer, bob: Remote, count: int) -> float:
    """Alice writes `count` messages back to back; until Bob has received all of them."""
    await bob.ask("receive", count)
    began = time.perf_counter()
    for n in range(count):
        alice.send(bob.jid, f"burst {n}")
    await bob.reply()
    return count / (time.perf_counter() - began)


async def plain_slixmpp(
    server: ProsodyServer, args: argparse.Namespace
) -> tuple[list[float], float]:
    """The baseline the issue's targets are ratios of: round trips (ms) and msg/s."""
    alice = await start_bare(server, server.create_account())
    bob = Remote(server, server.create_account(), Path(), bare=True)
    try:
        await bob.reply()
        await bare_round_trips(alice, bob, 3)
        times = await bare_round_trips(alice, bob, args.round_trips)
        rate = await bare_throughput(alice, bob, args.messages)
    finally:
        await alice.stop()
        await bob.stop()
    return times, rate


async def round_trips(
    alice: Peer, bob: Remote, count: int, *, plain: bool
) -> tuple[list[float], float]:
    """Round trip times (ms), and Bob's CPU time per round trip."""
    await bob.ask("echo", alice.jid, count, plain)
    times = []
    for n in range(count):
        began = time.perf_counter()
        await alice.service.send(bob.jid, f"ping {n}", allow_plaintext=plain)
        await alice.messages.get()
        times.append((time.perf_counter() - began) * 1000)
    _, bob_cpu, _ = await bob.reply()
    return times, bob_cpu / count


async def throughput(
    alice: Peer, bob: Remote, count: int, *, plain: bool, window: int
) -> tuple[float, float, float]:
    """Pipelined: Alice's sends do not wait for Bob; up to `window` of them are in flight at
    once (each returns once its stanza is written). The clock stops when Bob's service has
    emitted the last message (emitted = archived). Messages per second, Bob's CPU time per
    message, and Bob's write transactions per message (how well he batches)."""
    await bob.ask("receive", count)
    slots = asyncio.Semaphore(window)

    async def send(n: int) -> None:
        async with slots:
            await alice.service.send(bob.jid, f"burst {n}", allow_plaintext=plain)

    began = time.perf_counter()
    sends = []
    for n in range(count):
        await slots.acquire()  # keep the order of the sends and at most `window` tasks
        slots.release()
        sends.append(asyncio.create_task(send(n)))
        await asyncio.sleep(0)
    await asyncio.gather(*sends)
    _, bob_cpu, commits = await bob.reply()
    return count / (time.perf_counter() - began), bob_cpu / count, commits / count


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


async def catch_up(alice: Peer, bob: Remote, count: int) -> tuple[Any, ...]:
    await bob.ask("offline")
    for n in range(count):
        await alice.service.send(bob.jid, f"while away {n}")
    await asyncio.sleep(1.0)
    return await bob.ask("catch-up", count)


def cpu_ms() -> float:
    """CPU time of this process so far (every thread), in ms."""
    return time.process_time() * 1000


def server_cpu_ms(server: ProsodyServer) -> float:
    """CPU time the Prosody process used so far, in ms (from /proc)."""
    fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def summary(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return f"{name:28} median {statistics.median(times):7.1f} ms   p95 {p95:7.1f} ms"


class Meter:
    """CPU time (ms) that Alice's process and the server used since the last `lap`."""

    def __init__(self, server: ProsodyServer) -> None:
        self._server = server
        self._alice, self._prosody = cpu_ms(), server_cpu_ms(server)

    def lap(self, count: int) -> tuple[float, float]:
        """Alice's and the server's CPU time per unit, over `count` units."""
        alice, prosody = cpu_ms(), server_cpu_ms(self._server)
        used = ((alice - self._alice) / count, (prosody - self._prosody) / count)
        self._alice, self._prosody = alice, prosody
        return used


async def measure(
    server: ProsodyServer, root: Path, keyring: DictKeyring, args: argparse.Namespace
) -> None:
    meter = Meter(server)
    bare_times, bare_rate = await plain_slixmpp(server, args)
    bare_alice, bare_server = meter.lap(args.round_trips + args.messages)
    print(summary("round trip, plain slixmpp", bare_times))
    alice = await start_peer(server, server.create_account(), root / "alice", keyring)
    bob = Remote(server, server.create_account(), root / "bob")
    try:
        await bob.reply()
        await alice.service.set_chat_version(bob.jid, Namespace.V2)
        await round_trips(alice, bob, 3, plain=False)  # sessions built, warm
        meter.lap(1)
        encrypted, bob_rtt = await round_trips(alice, bob, args.round_trips, plain=False)
        rtt_alice, _ = meter.lap(args.round_trips)
        plain, bob_plain_rtt = await round_trips(alice, bob, args.round_trips, plain=True)
        plain_rtt_alice, _ = meter.lap(args.round_trips)
        print(summary("round trip, OMEMO 2", encrypted))
        print(summary("round trip, plain, service", plain))
        ratio = statistics.median(encrypted) / statistics.median(bare_times)
        print(f"{'  OMEMO 2 / plain slixmpp':28} {ratio:7.1f}x   (target <= 4x)")
        print(
            f"{'  CPU per round trip':28} OMEMO 2 {rtt_alice:5.2f} + {bob_rtt:5.2f} ms "
            f"(Alice + Bob), plain service {plain_rtt_alice:5.2f} + {bob_plain_rtt:5.2f} ms"
        )
        alice_commits = alice.commits
        rate_encrypted, bob_cpu, bob_commits = await throughput(
            alice, bob, args.messages, plain=False, window=args.window
        )
        alice_commits = alice.commits - alice_commits
        alice_cpu, server_cpu = meter.lap(args.messages)
        rate_plain, bob_plain_cpu, _ = await throughput(
            alice, bob, args.messages, plain=True, window=args.window
        )
        plain_alice, plain_server = meter.lap(args.messages)
        print(f"{'throughput, plain slixmpp':28} {bare_rate:7.1f} msg/s")
        print(f"{'throughput, OMEMO 2':28} {rate_encrypted:7.1f} msg/s   (window {args.window})")
        print(f"{'throughput, plain, service':28} {rate_plain:7.1f} msg/s")
        print(
            f"{'  OMEMO 2 / plain slixmpp':28} {rate_encrypted / bare_rate:7.2f}x   "
            "(target >= 0.45x)"
        )
        print(f"{'  CPU ms per message':28} Alice sending + Bob receiving + server:")
        print(f"{'    OMEMO 2':28} {alice_cpu:5.2f} + {bob_cpu:5.2f} + {server_cpu:5.2f}")
        print(
            f"{'    plain, service':28} {plain_alice:5.2f} + {bob_plain_cpu:5.2f} + "
            f"{plain_server:5.2f}"
        )
        print(
            f"{'    plain slixmpp':28} {bare_alice:5.2f} + ? + {bare_server:5.2f} "
            "(round trips included)"
        )
        print(
            f"{'  Bob CPU per received msg':28} {bob_cpu:5.2f} ms   (target <= 0.5 ms; OMEMO 2, "
            f"{bob_commits:4.2f} write transactions per message)"
        )
        print(
            f"{'  Alice write transactions':28} {alice_commits / args.messages:4.2f} per message "
            "sent (her sends and the receipts coming back)"
        )
        alice_commits = alice.commits
        result = await catch_up(alice, bob, args.catch_up)
        _, catch_server = meter.lap(args.catch_up)
        report_catch_up(args.catch_up, result[1:], catch_server)
        print(
            f"{'  Alice write transactions':28} "
            f"{(alice.commits - alice_commits) / args.catch_up:4.2f} per message "
            "(sends, then the receipts of Bob's catch-up)"
        )
    finally:
        await bob.stop()
        await alice.stop()


def report_catch_up(count: int, result: tuple[Any, ...], server_cpu: float) -> None:
    elapsed, worst, busy, step_wall, step_cpu = result
    print(
        f"{'MAM catch-up':28} {count} messages in {elapsed:6.2f} s "
        f"({count / elapsed:6.1f} msg/s); longest loop block {worst:6.1f} ms"
    )
    print(
        f"{'  CPU during catch-up':28} Bob {busy / 1000:6.2f} s ({busy / count:5.2f} ms per "
        f"message); server {server_cpu:5.2f} ms per message (sends included)"
    )
    print(
        f"{'  longest loop step':28} {step_wall:6.1f} ms wall, {step_cpu:6.1f} ms CPU "
        "(target < 50 ms)"
    )


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        server = ProsodyServer.start(root / "prosody")
        try:
            print(f"load average: {os.getloadavg()[0]:.2f} (2 cores shared)")
            await measure(server, root, DictKeyring(), args)
        finally:
            server.stop()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=30)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--window", type=int, default=16)
    parser.add_argument("--catch-up", type=int, default=1000)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
