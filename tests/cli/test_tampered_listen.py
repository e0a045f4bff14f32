"""Tampered copies ahead of a message, seen through the command line (issue 13 §2): the
genuine message is printed once by `listen --json` and listed once by `history --json`, and
each tampered copy is reported once on stderr. Bob runs the CLI; Alice is our service
(`tests/service/tampering.py` puts the copies on the wire through her stream)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest

from tests.cli.conftest import Account, CliRunner
from tests.service.conftest import Peer, PeerFactory, make_peer
from tests.service.tampering import FALLBACK, TAMPERINGS, copies, encrypt_for, send
from tui_omemo.model import DeviceRef, Namespace
from tui_omemo.protocol.session import session_key
from tui_omemo.service.state import load_state
from tui_omemo.xmpp.messages import new_message_id

__all__ = ["make_peer"]

pytestmark = [pytest.mark.prosody, pytest.mark.slow]

FAILED = "could not be decrypted"


async def _confirmed(alice: Peer, namespace: Namespace, device: DeviceRef) -> None:
    """Wait until Bob's answer to Alice's key exchange arrived (her next message is no KEX)."""
    key = session_key(namespace, device)
    async with asyncio.timeout(30):
        while True:
            state = await alice.service.runner.read(lambda uow: load_state(uow, key))
            if state is not None and state.get("confirmed"):
                return
            await asyncio.sleep(0.1)


async def _send_copies(alice: Peer, bob: str, device: int, namespace: Namespace, text: str) -> None:
    genuine = await encrypt_for(alice, bob, namespace, text)
    message_id = new_message_id()
    for element in [*copies(genuine, device), genuine]:
        send(alice, bob, element, message_id)


async def test_listen_and_history_show_the_genuine_message_once(
    make_peer: PeerFactory,
    runner: CliRunner,
    new_account: Callable[[str], Awaitable[Account]],
) -> None:
    """0.3 copies while `listen` runs, then OMEMO 2 copies caught up by the next `listen`:
    each genuine message once on stdout and in `history`, one stderr line per copy (and, in
    the JSON stream and history, one `error` object per copy)."""
    bob = await new_account("bob")
    first = await runner.run(bob, "listen", "--timeout", "3")  # publishes Bob's keys
    assert first.code == 0, first.err
    device = int(first.err.split("(device ")[1].split(")")[0])
    alice = await make_peer()
    await alice.service.send(bob.jid, "hello in 2")
    await alice.service.set_chat_version(bob.jid, Namespace.LEGACY)
    await alice.service.send(bob.jid, "hello in 0.3")

    listener = await runner.start(bob, "listen", "--json", "--count", "3", "--timeout", "60")
    try:
        await listener.wait_ready()
        hellos = [(await listener.next_json())["text"] for _ in range(2)]
        assert sorted(hellos) == ["hello in 0.3", "hello in 2"]
        for namespace in Namespace:
            await _confirmed(alice, namespace, DeviceRef(bob.jid, device))
        await _send_copies(alice, bob.jid, device, Namespace.LEGACY, "live after copies")
        errors = [await listener.next_json() for _ in TAMPERINGS[Namespace.LEGACY]]
        assert {error["type"] for error in errors} == {"error"}  # no text: the reason
        assert (await listener.next_json())["text"] == "live after copies"
        assert await listener.wait() == 0
        assert listener.process.stderr is not None
        err = "".join(listener.stderr) + (await listener.process.stderr.read()).decode()
    finally:
        await listener.stop()
    assert err.count(FAILED) == len(TAMPERINGS[Namespace.LEGACY]), err

    await _send_copies(alice, bob.jid, device, Namespace.V2, "caught up after copies")
    await asyncio.sleep(0.3)
    caught_up = await runner.run(bob, "listen", "--json", "--count", "1", "--timeout", "30")
    assert caught_up.code == 0, caught_up.err
    shown = [json.loads(line) for line in caught_up.out.splitlines()]
    assert [row["text"] for row in shown if row["type"] == "message"] == ["caught up after copies"]
    assert [row["type"] for row in shown].count("error") == len(TAMPERINGS[Namespace.V2])
    assert caught_up.err.count(FAILED) == len(TAMPERINGS[Namespace.V2])

    history = await runner.run(bob, "history", alice.jid, "--json")
    assert history.code == 0, history.err
    rows = [json.loads(line) for line in history.out.splitlines()]
    texts = [row["text"] for row in rows if row["type"] == "message"]
    for text in ("live after copies", "caught up after copies"):
        assert texts.count(text) == 1
    errors = [row for row in rows if row["type"] == "error"]
    assert len(errors) == sum(len(modes) for modes in TAMPERINGS.values())
    assert not [text for text in texts if FALLBACK in text]
