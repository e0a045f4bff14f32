"""`send` when the server never confirms (issue #4): a relay in front of Prosody goes silent
once the encrypted message leaves the client, so neither the message nor the ping behind it
gets an answer. `send` exits 1 within its --timeout with one line saying the message is
queued and will be sent on next connect; the next start delivers it, and the contact gets it
exactly once."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Account, CliRunner, subscribe_both
from tests.prosody import ProsodyServer
from tests.relay import Relay
from tui_omemo.commands.chat import QUEUED

pytestmark = [pytest.mark.prosody, pytest.mark.slow]

NewAccount = Callable[[str], Awaitable[Account]]


class Silencer:
    """While `armed`, the first client chunk carrying an encrypted `<message>` (the stream is
    plaintext on loopback) makes the relay fall silent, like a server that stopped answering."""

    def __init__(self) -> None:
        self.armed = False
        self.silenced = 0

    def __call__(self, data: bytes) -> bool:
        if self.armed and b"<message" in data and b"encrypted" in data:
            self.armed = False
            self.silenced += 1
            return True
        return False


async def behind(
    relay: Relay, prosody: ProsodyServer, runner: CliRunner, tmp_path: Path
) -> Account:
    """A new account whose profile connects through `relay`."""
    jid, password = prosody.create_account()
    account = Account(jid, password, tmp_path / "profile-alice")
    added = await runner.run(
        account, "account", "add", jid, "--server", f"{prosody.host}:{relay.port}",
        "--password-stdin", "--allow-plaintext-loopback", stdin=password + "\n",
    )  # fmt: skip
    assert added.code == 0, added.err
    return account


def texts(output: str) -> list[str]:
    return [json.loads(line)["text"] for line in output.splitlines()]


async def test_unconfirmed_send_exits_1_queued_and_the_next_start_sends_it_once(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount, tmp_path: Path
) -> None:
    silencer = Silencer()
    async with Relay(prosody.port, silence_when=silencer) as relay:
        alice = await behind(relay, prosody, runner, tmp_path)
        bob = await new_account("bob")
        await subscribe_both(prosody, alice, bob)
        assert (await runner.run(bob, "listen", "--timeout", "3")).code == 0

        silencer.armed = True
        lost = await runner.run(alice, "send", bob.jid, "one", "--timeout", "6", wait=60)
        assert silencer.silenced == 1
        assert lost.code == 6, lost.err  # queued, not confirmed
        assert lost.err_lines == [
            f"tui-omemo: the server did not confirm the message within 6 s; {QUEUED}"
        ]

        sent = await runner.run(alice, "send", bob.jid, "two")
        assert sent.code == 0, sent.err
        got = await runner.run(bob, "listen", "--count", "2", "--timeout", "30", "--json")
        assert texts(got.out) == ["one", "two"], got.err

        # nothing is left to resend: Bob has each message once
        assert (await runner.run(alice, "send", bob.jid, "three")).code == 0
        got = await runner.run(bob, "listen", "--count", "1", "--timeout", "30", "--json")
        assert texts(got.out) == ["three"], got.err
        history = await runner.run(bob, "history", alice.jid, "--json")
        assert texts(history.out) == ["one", "two", "three"]
