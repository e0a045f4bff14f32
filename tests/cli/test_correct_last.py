"""`send --correct-last` and `listen --json` between two profiles through the real Prosody
(issue #17, XEP-0308): the correction goes out encrypted, `listen --json` prints it with
"replaces" naming the original message's id, and both histories show the message once with the
corrected text, "edited"."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest

from tests.cli.conftest import Account, CliRunner, subscribe_both
from tests.prosody import ProsodyServer
from tui_omemo.commands import exits

pytestmark = [pytest.mark.prosody, pytest.mark.slow]

NewAccount = Callable[[str], Awaitable[Account]]


async def test_send_correct_last_and_listen_json(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount
) -> None:
    alice, bob = await new_account("alice"), await new_account("bob")
    await subscribe_both(prosody, alice, bob)
    nothing = await runner.run(alice, "send", bob.jid, "fix", "--correct-last")
    assert nothing.code == exits.FAILURE  # not NO_DEVICE: the contact's devices are fine
    assert "no encrypted message" in nothing.err
    listener = await runner.start(bob, "listen", "--count", "2", "--timeout", "60", "--json")
    try:
        await listener.wait_ready()
        sent = await runner.run(alice, "send", bob.jid, "meet at 6")
        assert sent.code == 0, sent.err
        original = await listener.next_json()
        fixed = await runner.run(alice, "send", bob.jid, "meet at 7", "--correct-last")
        assert fixed.code == 0, fixed.err
        correction = await listener.next_json()
        assert await listener.wait() == 0
    finally:
        await listener.stop()
    assert (original["text"], original["replaces"], original["edited"]) == (
        "meet at 6",
        None,
        False,
    )
    assert correction["text"] == "meet at 7"
    assert correction["encrypted"] is True
    assert isinstance(correction["replaces"], str)
    assert correction["replaces"]

    for account, peer in ((alice, bob), (bob, alice)):
        history = await runner.run(account, "history", peer.jid, "--json")
        assert history.code == 0, history.err
        rows = [json.loads(line) for line in history.out.splitlines()]
        assert [(row["text"], row["edited"]) for row in rows] == [("meet at 7", True)]
