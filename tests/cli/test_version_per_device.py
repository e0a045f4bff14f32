"""`tui-omemo send` without `--omemo` to a contact whose devices speak different versions,
through Prosody: Bob runs our client (OMEMO 2 and 0.3) on one device and slixmpp-omemo set
up for OMEMO 0.3 only (python-omemo's `oldmemo`, like Conversations) on another. One stanza
carries both versions; each device decrypts the message exactly once; Alice's archive holds
one row."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest

from tests.cli.conftest import Account, CliRunner, subscribe_both
from tests.cli.omemo_peer import LEGACY, OmemoPeer
from tests.prosody import ProsodyServer

pytestmark = [pytest.mark.prosody, pytest.mark.slow]

NewAccount = Callable[[str], Awaitable[Account]]


async def device_ids(runner: CliRunner, account: Account, jid: str) -> dict[int, list[str]]:
    """`devices JID --json`: device id → the versions it publishes."""
    listed = await runner.run(account, "devices", jid, "--json")
    assert listed.code == 0, listed.err
    rows = [json.loads(line) for line in listed.out.splitlines()]
    return {int(row["device"]): row["versions"] for row in rows}


async def history(runner: CliRunner, account: Account, jid: str) -> list[str]:
    shown = await runner.run(account, "history", jid, "--json")
    assert shown.code == 0, shown.err
    return [json.loads(line)["text"] for line in shown.out.splitlines()]


async def test_send_reaches_an_omemo2_device_and_a_legacy_only_device_once_each(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount
) -> None:
    alice, bob = await new_account("alice"), await new_account("bob")
    await subscribe_both(prosody, alice, bob)
    first = await runner.run(bob, "listen", "--timeout", "3")  # Bob's keys are published
    assert first.code == 0, first.err
    peer = await OmemoPeer.start(prosody, bob.jid, bob.password, legacy_only=True)
    try:
        legacy_device = await peer.device_id()
        listener = await runner.start(bob, "listen", "--count", "2", "--json", "--timeout", "90")
        try:
            await listener.wait_ready()
            sent = await runner.run(alice, "send", bob.jid, "to both of bob's devices")
            assert sent.code == 0, sent.err
            assert "OMEMO 2 and 0.3" in sent.out
            assert "skipped" not in sent.out + sent.err
            on_ours = await listener.next_json()
            on_legacy = await peer.next_message()
            # a second message: whatever either device receives next is this one, so the
            # first arrived exactly once on each
            again = await runner.run(alice, "send", bob.jid, "second")
            assert again.code == 0, again.err
            assert (await listener.next_json())["text"] == "second"
            assert (await peer.next_message()).text == "second"
            assert await listener.wait() == 0
        finally:
            await listener.stop()
        assert (on_ours["text"], on_ours["omemo"]) == ("to both of bob's devices", "2")
        assert (on_legacy.text, on_legacy.namespace, on_legacy.sender) == (
            "to both of bob's devices",
            LEGACY,
            alice.jid,
        )
        assert not peer.errors, peer.errors
        versions = await device_ids(runner, alice, bob.jid)
        assert versions[legacy_device] == ["0.3"]
    finally:
        await peer.stop()
    assert await history(runner, alice, bob.jid) == ["to both of bob's devices", "second"]
    assert await history(runner, bob, alice.jid) == ["to both of bob's devices", "second"]
