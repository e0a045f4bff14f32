"""What makes Prosody work per message: one thing toggled at a time.

Run on demand: ``python -m benchmarks.server_cost [--messages N] [--repeats N] [--only NAME]
[--pipelined]``.

Two `XmppClient`s (no service, no database: only the wire) log in to a loopback Prosody; Alice
sends N messages to Bob in lock step (each waits until Bob's client has read the one before, as
in a round trip) and the Prosody process's CPU time per message is read from /proc. Each
variant changes one thing against `ours` (what our clients do: XEP-0198 with resumption,
carbons, MAM archiving both copies, an OMEMO 2 shaped stanza of ~1 KB with EME, store hint and
origin-id, and the outbox's confirmation after each message); `bare` is the issue's baseline
(slixmpp without plugins, a plain body). Variants run interleaved, `--repeats` times, and the
median is printed: the machine is shared, so single runs are noisy.

Measured 2026-11-26 (Prosody 0.12.3, internal storage; load 0.8-6; ±1 ms run to run), ms of
server CPU per message, lock step, 300 messages, medians of 3 (three tables) / pipelined 500:

    bare slixmpp (plain body, archived)       2.3  2.5  2.3   / 1.3
    ours (OMEMO 2 shape, XEP-0199 ping each)  5.5  6.1  6.2   / 3.3
    - archiving off (MAM prefs never)         2.4  3.2  2.5   / 0.9   <- ~3 ms: both copies
    - not archivable (no EME/store/origin-id) 2.2  2.4  2.3
    - plain body 150 B / 1 KB (archived)      4.2/4.6  4.5/5.3
    - store hint only dropped (EME archives)  5.1  6.5
    - no confirmation / confirm by SM ack     5.2/5.1  5.0/6.1 / -/2.8
    - no stream management                    4.5  5.7  5.0   / 2.9
    - no carbons, sm window 50, lazy acks     within noise

So the server's work per message is mostly MAM: both copies of the ~1 KB stanza are
serialized to Lua and appended to a file (internal storage), with a cost that grows with the
stanza; then stream management (~0.5-1 ms: a queued clone of every stanza, an `<r/>` after
every delivery and our `<a/>`); the confirmation round trip ~0.5 ms more. Neither carbons nor
how often we ask for acks showed up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import slixmpp
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from benchmarks.e2e import login_bare, server_cpu_ms
from devtools.prosody import ProsodyServer
from tui_omemo.model import Namespace
from tui_omemo.protocol.elements import EncryptedElement, KeyElement
from tui_omemo.xmpp.client import XmppClient
from tui_omemo.xmpp.messages import CLIENT, SID, build_encrypted_message

MAM = "urn:xmpp:mam:2"
SM = "urn:xmpp:sm:3"


@dataclass(frozen=True)
class Variant:
    """One configuration of both clients and of what Alice sends."""

    name: str
    bare: bool = False
    stream_management: bool = True
    window: int | None = None
    """slixmpp's `<r/>` after every `window` stanzas (None: as the client sets it)."""
    lazy_acks: float = 0.0
    """Seconds Bob waits before answering the server's `<r/>` (answers coalesce)."""
    carbons: bool = True
    archive: bool = True
    shape: str = "omemo2"
    """omemo2 | omemo2-no-store | omemo2-no-hints (no EME, store hint, origin-id: not
    archived) | plain (body, origin-id) | plain-1k (a body of 1,000 characters)."""
    confirm: str = "ping"
    """After each message: ping (an XEP-0199 round trip, what `XmppClient.ping` did before)
    | client (`XmppClient.ping`) | none."""
    presence: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


OURS = Variant("ours")
VARIANTS = [
    Variant("bare", bare=True, shape="plain", confirm="none", carbons=False),
    OURS,
    replace(OURS, name="no confirmation", confirm="none"),
    replace(OURS, name="confirm by client.ping", confirm="client"),
    replace(OURS, name="no stream management", stream_management=False),
    replace(OURS, name="sm window 50", window=50),
    replace(OURS, name="bob acks lazily 50 ms", lazy_acks=0.05),
    replace(OURS, name="no carbons", carbons=False),
    replace(OURS, name="no archiving (MAM prefs never)", archive=False),
    replace(OURS, name="omemo2 without store hint", shape="omemo2-no-store"),
    replace(OURS, name="omemo2 without hints (not kept)", shape="omemo2-no-hints"),
    replace(OURS, name="plain body shape", shape="plain"),
    replace(OURS, name="plain body of 1 KB", shape="plain-1k"),
]


def omemo2_stanza(to: str, *, drop: tuple[str, ...] = ()) -> ET.Element:
    """A message shaped like our OMEMO 2 sends: one key (~110 bytes), a ~380 byte payload (the
    SCE envelope with its rpad), EME, store hint and origin-id; `drop` removes the children
    with those local names."""
    key = KeyElement(to, 1234567, secrets.token_bytes(110))
    element = EncryptedElement(Namespace.V2, 7654321, (key,), None, secrets.token_bytes(380))
    message = build_encrypted_message(element, to)
    for child in list(message):
        if child.tag.rsplit("}", 1)[-1] in drop:
            message.remove(child)
    return message


def plain_stanza(to: str, n: int, size: int = 0) -> ET.Element:
    message_id = secrets.token_urlsafe(12)
    message = ET.Element(f"{{{CLIENT}}}message", to=to, type="chat", id=message_id)
    text = f"message {n} "
    ET.SubElement(message, f"{{{CLIENT}}}body").text = text + "x" * max(0, size - len(text))
    ET.SubElement(message, f"{{{SID}}}origin-id", id=message_id)
    return message


class Side:
    """One logged-in client and a counter of the messages it read."""

    def __init__(
        self,
        variant: Variant,
        jid: str,
        stream: Any,
        close: Callable[[], Awaitable[None]],
        ours: XmppClient | None,
    ) -> None:
        self.variant, self.jid, self.stream, self._close = variant, jid, stream, close
        self.ours = ours
        self.received = 0
        self.arrived = asyncio.Event()
        stream.register_handler(
            Callback("bench count", MatchXPath(f"{{{CLIENT}}}message"), self._count)
        )

    def _count(self, _stanza: Any) -> None:
        self.received += 1
        self.arrived.set()

    async def stop(self) -> None:
        await self._close()


async def login(server: ProsodyServer, variant: Variant) -> Side:
    jid, password = server.create_account()
    if variant.bare:
        return await _login_bare(server, variant, jid, password)
    ours = XmppClient(
        jid,
        password,
        host=server.host,
        port=server.port,
        allow_plaintext_loopback=True,
        reconnect=False,
    )
    if not variant.stream_management:
        make = ours._make_stream

        def without_sm() -> Any:
            stream: Any = make()
            stream.unregister_feature("sm", 10100)
            stream.unregister_feature("sm", 9000)
            return stream

        ours._make_stream = without_sm  # type: ignore[method-assign]
    await ours.connect(announce=variant.presence)
    stream: Any = ours.stream
    if not variant.carbons:
        await stream.plugin["xep_0280"].disable()
    if not variant.archive:
        prefs = ET.Element(f"{{{MAM}}}prefs", default="never")
        await ours.request("set", prefs, to=None, what="mam prefs")
    if variant.window is not None:
        sm = stream.plugin["xep_0198"]
        sm.window = sm.window_counter = variant.window
    if variant.lazy_acks:
        _lazy_acks(stream, variant.lazy_acks)
    return Side(variant, jid, stream, ours.disconnect, ours)


def _lazy_acks(stream: Any, delay: float) -> None:
    """Answer the server's `<r/>` after `delay` seconds, one `<a/>` for all asked meanwhile."""
    sm = stream.plugin["xep_0198"]
    stream.remove_handler("Stream Management Request Ack")
    pending: list[asyncio.TimerHandle] = []

    def answer() -> None:
        pending.clear()
        sm.send_ack()

    def on_request(_stanza: Any) -> None:
        if not pending:
            pending.append(asyncio.get_running_loop().call_later(delay, answer))

    stream.register_handler(
        Callback("lazy ack", MatchXPath(f"{{{SM}}}r"), on_request, instream=True)
    )


async def _login_bare(server: ProsodyServer, variant: Variant, jid: str, password: str) -> Side:
    client = await login_bare(server, jid, password)

    async def close() -> None:
        await asyncio.wait_for(client.disconnect(), 5)

    return Side(variant, jid, client, close, None)


def stanza_for(variant: Variant, to: str, n: int) -> ET.Element:
    shapes: dict[str, Callable[[], ET.Element]] = {
        "plain": lambda: plain_stanza(to, n),
        "plain-1k": lambda: plain_stanza(to, n, 1000),
        "omemo2": lambda: omemo2_stanza(to),
        "omemo2-no-store": lambda: omemo2_stanza(to, drop=("store",)),
        "omemo2-no-hints": lambda: omemo2_stanza(to, drop=("store", "encryption", "origin-id")),
    }
    return shapes[variant.shape]()


async def send(alice: Side, to: str, n: int) -> None:
    element = stanza_for(alice.variant, to, n)
    if alice.ours is not None:
        alice.ours.send_stanza(element)
    else:
        slixmpp.Message(alice.stream, xml=element).send()  # type: ignore[no-untyped-call]
    if alice.variant.confirm == "ping":
        await alice.stream.plugin["xep_0199"].ping(timeout=10)
    elif alice.variant.confirm == "client" and alice.ours is not None:
        await alice.ours.ping(10)


async def run(
    server: ProsodyServer, variant: Variant, count: int, pipelined: bool = False
) -> float:
    """Prosody CPU ms per message for `count` messages Alice → Bob in lock step (or, with
    `pipelined`, all handed over at once, confirmed once at the end)."""
    alice, bob = await login(server, variant), await login(server, variant)
    try:
        await asyncio.sleep(0.3)
        for n in range(5):  # warm up: presence known, first routes taken
            await _one(alice, bob, n)
        await asyncio.sleep(0.3)
        began = server_cpu_ms(server)
        if pipelined:
            await _burst(alice, bob, count)
        for n in range(0 if pipelined else count):
            await _one(alice, bob, n)
        await asyncio.sleep(0.3)  # trailing acks
        return (server_cpu_ms(server) - began) / count
    finally:
        await alice.stop()
        await bob.stop()


async def _one(alice: Side, bob: Side, n: int) -> None:
    bob.arrived.clear()
    expected = bob.received + 1
    await send(alice, bob.jid, n)
    while bob.received < expected:
        await asyncio.wait_for(bob.arrived.wait(), 10)
        bob.arrived.clear()


async def _burst(alice: Side, bob: Side, count: int) -> None:
    expected = bob.received + count
    confirm = alice.variant.confirm
    alice.variant = replace(alice.variant, confirm="none")
    for n in range(count):
        await send(alice, bob.jid, n)
        await asyncio.sleep(0)
    alice.variant = replace(alice.variant, confirm=confirm)
    if confirm != "none":
        await send(alice, bob.jid, count)
        expected += 1
    while bob.received < expected:
        bob.arrived.clear()
        await asyncio.wait_for(bob.arrived.wait(), 10)


async def main(args: argparse.Namespace) -> None:
    chosen = [v for v in VARIANTS if not args.only or v.name in args.only]
    results: dict[str, list[float]] = {v.name: [] for v in chosen}
    with tempfile.TemporaryDirectory() as scratch:
        server = ProsodyServer.start(Path(scratch) / "prosody")
        try:
            print(f"load average: {os.getloadavg()[0]:.2f} (2 cores shared)")
            for _ in range(args.repeats):
                for variant in chosen:
                    results[variant.name].append(
                        await run(server, variant, args.messages, args.pipelined)
                    )
        finally:
            server.stop()
    print(f"{'variant':34} server CPU ms per message (median of {args.repeats}; all runs)")
    for name, values in results.items():
        runs = " ".join(f"{v:.2f}" for v in values)
        print(f"{name:34} {statistics.median(values):5.2f}   ({runs})")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", action="append")
    parser.add_argument(
        "--pipelined",
        action="store_true",
        help="send all messages at once, one confirmation at the end",
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
