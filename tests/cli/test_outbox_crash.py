"""The outbox under kill -9 (issue #4): `send` dies after its message is archived and its
sending chains committed but before the stanza leaves (`after_send_commit`). The next start
sends that very stanza, in order before the next message; the contact gets each exactly once.
A `send` that cannot reach the server exits 1 and says the message is queued."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest

from tests.cli.conftest import Account, CliRunner, subscribe_both
from tests.prosody import ProsodyServer

pytestmark = [pytest.mark.prosody, pytest.mark.slow]

NewAccount = Callable[[str], Awaitable[Account]]
KILLED = 137


def texts(history: str) -> list[str]:
    return [json.loads(line)["text"] for line in history.splitlines()]


@pytest.mark.parametrize("version", ["2", "0.3"])
async def test_a_message_killed_before_it_left_is_sent_once_by_the_next_start(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount, version: str
) -> None:
    alice, bob = await new_account("alice"), await new_account("bob")
    await subscribe_both(prosody, alice, bob)
    assert (await runner.run(bob, "listen", "--timeout", "3")).code == 0

    crashed = await runner.run(
        alice, "send", bob.jid, "one", "--omemo", version, TUI_OMEMO_CRASH_AT="after_send_commit"
    )
    assert crashed.code == KILLED, crashed.err
    kept = await runner.run(alice, "history", bob.jid, "--json")
    assert texts(kept.out) == ["one"]  # archived before the crash, not yet on the wire

    sent = await runner.run(alice, "send", bob.jid, "two", "--omemo", version)
    assert sent.code == 0, sent.err
    got = await runner.run(bob, "listen", "--count", "2", "--timeout", "30", "--json")
    assert texts(got.out) == ["one", "two"], got.err

    # nothing is left to send: a third start resends nothing, Bob has each message once
    assert (await runner.run(alice, "send", bob.jid, "three", "--omemo", version)).code == 0
    got = await runner.run(bob, "listen", "--count", "1", "--timeout", "30", "--json")
    assert texts(got.out) == ["three"], got.err
    history = await runner.run(bob, "history", alice.jid, "--json")
    assert texts(history.out) == ["one", "two", "three"]
