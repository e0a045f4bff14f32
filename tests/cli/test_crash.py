"""Exactly once under kill -9: `listen` dies at each crash point of the inbound pipeline
(`TUI_OMEMO_CRASH_AT`, see service/crashpoints.py); after a restart every message is in the
archive exactly once and the session still works both ways."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest

from tests.cli.conftest import Account, CliRunner, subscribe_both
from tests.prosody import ProsodyServer

pytestmark = [pytest.mark.prosody, pytest.mark.slow]


NewAccount = Callable[[str], Awaitable[Account]]
CRASH_POINTS = ["after_inbox_write", "after_decrypt", "before_commit", "after_commit"]
KILLED = 137


def texts(history: str) -> list[str]:
    return [json.loads(line)["text"] for line in history.splitlines()]


@pytest.mark.parametrize("version", ["2", "0.3"])
@pytest.mark.parametrize("point", CRASH_POINTS)
async def test_kill_at_crash_point_keeps_every_message_exactly_once(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount, point: str, version: str
) -> None:
    alice, bob = await new_account("alice"), await new_account("bob")
    await subscribe_both(prosody, alice, bob)
    warm = await runner.run(bob, "listen", "--timeout", "3")  # publishes bob's devices
    assert warm.code == 0, warm.err
    for text in ("one", "two"):
        sent = await runner.run(alice, "send", bob.jid, text, "--omemo", version)
        assert sent.code == 0, sent.err

    crashed = await runner.run(bob, "listen", "--timeout", "30", "--json", TUI_OMEMO_CRASH_AT=point)
    assert crashed.code == KILLED, crashed.err

    restarted = await runner.run(bob, "listen", "--timeout", "5", "--json")
    assert restarted.code == 0, restarted.err
    history = await runner.run(bob, "history", alice.jid, "--json")
    assert texts(history.out) == ["one", "two"]

    # the session still works both ways
    assert (await runner.run(alice, "send", bob.jid, "three", "--omemo", version)).code == 0
    assert (await runner.run(bob, "send", alice.jid, "back", "--omemo", version)).code == 0
    got = await runner.run(bob, "listen", "--count", "1", "--timeout", "30", "--json")
    assert texts(got.out) == ["three"]
    back = await runner.run(alice, "listen", "--count", "1", "--timeout", "30", "--json")
    assert texts(back.out) == ["back"]
    history = await runner.run(bob, "history", alice.jid, "--json")
    assert texts(history.out) == ["one", "two", "three", "back"]
