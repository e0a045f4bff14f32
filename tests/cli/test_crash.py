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
    await _warm_up(runner, alice, bob, version)
    for text in ("one", "two"):
        sent = await runner.run(alice, "send", bob.jid, text, "--omemo", version)
        assert sent.code == 0, sent.err

    crashed = await runner.run(bob, "listen", "--timeout", "30", "--json", TUI_OMEMO_CRASH_AT=point)
    assert crashed.code == KILLED, crashed.err

    restarted = await runner.run(bob, "listen", "--timeout", "5", "--json")
    assert restarted.code == 0, restarted.err
    history = await runner.run(bob, "history", alice.jid, "--json")
    assert texts(history.out) == ["zero", "one", "two"]

    # the session still works both ways (each side reads before it sends: every command
    # catches up, and only `listen` prints what it caught up)
    assert (await runner.run(alice, "send", bob.jid, "three", "--omemo", version)).code == 0
    got = await runner.run(bob, "listen", "--count", "1", "--timeout", "30", "--json")
    assert texts(got.out) == ["three"], got.err
    assert (await runner.run(bob, "send", alice.jid, "back", "--omemo", version)).code == 0
    back = await runner.run(alice, "listen", "--count", "1", "--timeout", "30", "--json")
    assert texts(back.out) == ["back"], back.err
    history = await runner.run(bob, "history", alice.jid, "--json")
    assert texts(history.out) == ["zero", "one", "two", "three", "back"]


async def _warm_up(runner: CliRunner, alice: Account, bob: Account, version: str) -> None:
    """Bob publishes his devices, then receives "zero" while offline: his profile has caught
    up once from a non-empty archive, so the crash is what the test is about."""
    assert (await runner.run(bob, "listen", "--timeout", "3")).code == 0
    assert (await runner.run(alice, "send", bob.jid, "zero", "--omemo", version)).code == 0
    got = await runner.run(bob, "listen", "--count", "1", "--timeout", "30", "--json")
    assert texts(got.out) == ["zero"], got.err


async def test_messages_sent_before_the_first_catch_up_survive_a_crash(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount
) -> None:
    """Bob has only ever connected while his archive was empty. Two messages arrive while he
    is offline; he crashes on the first one; after a restart both are archived."""
    alice, bob = await new_account("alice"), await new_account("bob")
    await subscribe_both(prosody, alice, bob)
    assert (await runner.run(bob, "listen", "--timeout", "3")).code == 0
    for text in ("one", "two"):
        assert (await runner.run(alice, "send", bob.jid, text)).code == 0
    crashed = await runner.run(
        bob, "listen", "--timeout", "30", TUI_OMEMO_CRASH_AT="after_inbox_write"
    )
    assert crashed.code == KILLED, crashed.err
    assert (await runner.run(bob, "listen", "--timeout", "5")).code == 0
    history = await runner.run(bob, "history", alice.jid, "--json")
    assert texts(history.out) == ["one", "two"]
