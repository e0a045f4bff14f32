"""`send` and `listen` between two tui-omemo profiles through the real Prosody, both versions."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest

from tests.cli.conftest import Account, CliRunner, subscribe_both
from tests.prosody import ProsodyServer

pytestmark = [pytest.mark.prosody, pytest.mark.slow]


NewAccount = Callable[[str], Awaitable[Account]]


def history_rows(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("version", ["2", "0.3"])
async def test_cli_to_cli_both_ways(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount, version: str
) -> None:
    """Alice sends with `send --omemo V`; Bob's `listen --json` prints it decrypted, with the
    sender device, trust and version; Bob answers; both histories hold both messages once."""
    alice, bob = await new_account("alice"), await new_account("bob")
    await subscribe_both(prosody, alice, bob)
    listener = await runner.start(bob, "listen", "--count", "1", "--timeout", "60", "--json")
    try:
        await listener.wait_ready()
        sent = await runner.run(alice, "send", bob.jid, f"hello in {version}", "--omemo", version)
        assert sent.code == 0, sent.err
        message = await listener.next_json()
        assert await listener.wait() == 0
    finally:
        await listener.stop()
    assert message["from"] == alice.jid
    assert message["text"] == f"hello in {version}"
    assert message["omemo"] == version
    assert message["trust"] in ("blind", "blindly_trusted")
    assert isinstance(message["device"], int)
    assert message["stanza_id"]
    assert message["time"]

    reply = await runner.run(bob, "send", alice.jid, "hi back", "--omemo", version)
    assert reply.code == 0, reply.err
    got = await runner.run(alice, "listen", "--count", "1", "--timeout", "60", "--json")
    assert got.code == 0, got.err
    assert [row["text"] for row in history_rows(got.out)] == ["hi back"]

    for account, peer in ((alice, bob), (bob, alice)):
        history = await runner.run(account, "history", peer.jid, "--json")
        assert history.code == 0, history.err
        texts = [row["text"] for row in history_rows(history.out)]
        assert texts == [f"hello in {version}", "hi back"]


async def test_send_to_a_contact_without_omemo_sends_nothing(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount
) -> None:
    """No device published: `send` fails with exit 3 (no device can receive it), says so on
    stderr, and archives nothing."""
    alice = await new_account("alice")
    nobody, _password = prosody.create_account()
    result = await runner.run(alice, "send", nobody, "secret", "--timeout", "20")
    assert result.code == 3  # no device can receive it
    assert result.out == ""
    assert len(result.err.splitlines()) == 2  # the skipped JID, then the one-line error
    assert "secret" not in result.err
    history = await runner.run(alice, "history", nobody, "--json")
    assert history.out == ""


async def test_listen_times_out_cleanly(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount
) -> None:
    """`listen --timeout` with nothing arriving ends with 0 and prints nothing;
    with --count not reached it ends with 1 and says so."""
    alice = await new_account("alice")
    quiet = await runner.run(alice, "listen", "--timeout", "2", "--json")
    assert (quiet.code, quiet.out) == (0, "")
    short = await runner.run(alice, "listen", "--timeout", "2", "--count", "1")
    assert short.code == 1
    assert "0 of 1" in short.err
