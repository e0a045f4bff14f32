"""The outbox in a room under kill -9 (issue #4): `muc send` dies after the message is archived
and its chains committed, before the stanza left; the next `muc send` rejoins the room, sends
that stanza first, then its own; the other member gets each exactly once."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest

from tests.cli.conftest import Account, CliRunner
from tests.prosody import ProsodyServer

pytestmark = [pytest.mark.prosody, pytest.mark.slow]

KILLED = 137


async def test_a_room_message_killed_before_it_left_is_sent_once_by_the_next_start(
    prosody: ProsodyServer,
    runner: CliRunner,
    new_account: Callable[[str], Awaitable[Account]],
) -> None:
    alice, bob = await new_account("alice"), await new_account("bob")
    room = f"outbox-room@{prosody.muc_domain}"
    created = await runner.run(alice, "muc", "join", room, "--nick", "alice", "--member", bob.jid)
    assert created.code == 0, created.err
    assert (await runner.run(bob, "muc", "join", room, "--nick", "bob")).code == 0

    crashed = await runner.run(
        alice, "muc", "send", room, "one", TUI_OMEMO_CRASH_AT="after_send_commit"
    )
    assert crashed.code == KILLED, crashed.err
    sent = await runner.run(alice, "muc", "send", room, "two")
    assert sent.code == 0, sent.err

    caught_up = await runner.run(bob, "muc", "members", room)  # rejoins and catches up
    assert caught_up.code == 0, caught_up.err
    history = await runner.run(bob, "history", room, "--json")
    assert [json.loads(line)["text"] for line in history.out.splitlines()] == ["one", "two"]
