"""Wire census: every stanza (and stream-management nonza) our clients send and receive while
they chat, counted by kind, with the Prosody CPU it cost.

Run on demand: ``python -m benchmarks.wire [--round-trips N] [--plain]``.

Alice and Bob are two of our services (as in `benchmarks.e2e`, both in this process here: only
the wire and the server's CPU are measured). After the sessions are built, Alice sends N
messages, Bob's service answers each one once it emitted it, and Alice waits for the answer
(the e2e round trip). Every top-level element either client writes or reads in that stretch is
classified (`kind`) and counted; the server's CPU comes from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.e2e import Peer, server_cpu_ms, start_peer
from devtools.keyrings import DictKeyring
from devtools.prosody import ProsodyServer
from tui_omemo.model import Namespace

_SHORT = {
    "jabber:client": "",
    "urn:xmpp:sm:3": "sm:",
    "urn:xmpp:carbons:2": "carbons:",
    "urn:xmpp:ping": "ping",
    "urn:xmpp:omemo:2": "omemo2",
    "eu.siacs.conversations.axolotl": "omemo03",
    "http://jabber.org/protocol/pubsub": "pubsub",
    "http://jabber.org/protocol/pubsub#event": "pubsub-event",
    "urn:xmpp:mam:2": "mam",
}


def _local(tag: str) -> tuple[str, str]:
    namespace, _, name = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    return namespace, name


def kind(element: ET.Element) -> str:
    """A short name for one top-level element: `message/chat[omemo2]`, `iq/get[ping]`,
    `sm:r`, `message/chat[carbons:sent]` …"""
    namespace, name = _local(element.tag)
    if name not in ("message", "iq", "presence"):
        return _SHORT.get(namespace, namespace + ":") + name
    label = f"{name}/{element.get('type', 'normal' if name == 'message' else '')}"
    inner = []
    for child in element:
        child_ns, child_name = _local(child.tag)
        if child_ns in ("urn:xmpp:carbons:2",):
            inner.append(f"carbons:{child_name}")
        elif child_ns in _SHORT and child_ns != "jabber:client":
            inner.append(_SHORT[child_ns])
        elif name == "message" and child_name == "body":
            inner.append("body")
    return f"{label}[{','.join(inner)}]" if inner else label


class Census:
    """Counts what one slixmpp stream writes and reads, by kind, while `counting`."""

    def __init__(self, stream: Any, who: str) -> None:
        self.who = who
        self.sent: Counter[str] = Counter()
        self.received: Counter[str] = Counter()
        self.sent_bytes = 0
        self.counting = False
        original = stream.send_raw

        def send_raw(data: str) -> None:
            if self.counting:
                self.sent_bytes += len(data.encode())
                try:
                    self.sent[kind(ET.fromstring(data))] += 1
                except ET.ParseError:
                    self.sent["(unparsed)"] += 1
            original(data)

        stream.send_raw = send_raw
        stream.add_filter("in", self._incoming)

    def _incoming(self, stanza: Any) -> Any:
        if self.counting:
            self.received[kind(stanza.xml)] += 1
        return stanza

    def report(self, per: int) -> list[str]:
        lines = [f"{self.who} sent ({self.sent_bytes / per:.0f} bytes per round trip):"]
        lines += [f"  {count / per:6.2f}  {name}" for name, count in self.sent.most_common()]
        lines.append(f"{self.who} received:")
        lines += [f"  {count / per:6.2f}  {name}" for name, count in self.received.most_common()]
        return lines


async def round_trips(alice: Peer, bob: Peer, count: int, *, plain: bool) -> None:
    async def echo() -> None:
        for n in range(count):
            await bob.messages.get()
            await bob.service.send(alice.jid, f"pong {n}", allow_plaintext=plain)

    answering = asyncio.create_task(echo())
    for n in range(count):
        await alice.service.send(bob.jid, f"ping {n}", allow_plaintext=plain)
        await alice.messages.get()
    await answering


async def census(server: ProsodyServer, root: Path, args: argparse.Namespace) -> None:
    keyring = DictKeyring()
    alice = await start_peer(server, server.create_account(), root / "alice", keyring)
    bob = await start_peer(server, server.create_account(), root / "bob", keyring)
    try:
        await alice.service.set_chat_version(bob.jid, Namespace.V2)
        await round_trips(alice, bob, 3, plain=args.plain)  # sessions built
        await asyncio.sleep(1.0)  # outbox confirmations and acks of the warm-up settle
        counts = [Census(alice.client, "Alice"), Census(bob.client, "Bob")]
        for one in counts:
            one.counting = True
        began = server_cpu_ms(server)
        await round_trips(alice, bob, args.round_trips, plain=args.plain)
        await asyncio.sleep(1.0)  # trailing acks and pings
        used = server_cpu_ms(server) - began
        for one in counts:
            one.counting = False
        what = "plain" if args.plain else "OMEMO 2"
        print(
            f"{args.round_trips} round trips ({what}), per round trip "
            f"(two messages: Alice -> Bob, Bob -> Alice):"
        )
        print(f"server CPU {used / args.round_trips:.2f} ms per round trip")
        for one in counts:
            print("\n".join(one.report(args.round_trips)))
    finally:
        await bob.stop()
        await alice.stop()


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        server = ProsodyServer.start(root / "prosody")
        try:
            await census(server, root, args)
        finally:
            server.stop()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=100)
    parser.add_argument("--plain", action="store_true")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
