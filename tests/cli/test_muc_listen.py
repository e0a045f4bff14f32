"""`tui-omemo muc …` through the real command line, and `listen` in a room: `--json` carries
`room` and `nick`, `--echo` answers in the room (subprocesses over Prosody)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest

from tests.cli.conftest import Account, CliRunner
from tests.prosody import ProsodyServer

pytestmark = [pytest.mark.prosody, pytest.mark.slow]


async def test_listen_shows_room_and_nick_and_echoes_in_the_room(
    prosody: ProsodyServer,
    runner: CliRunner,
    new_account: Callable[[str], Awaitable[Account]],
) -> None:
    """alice creates an OMEMO room with bob as member and bob joins; bob's `listen --json
    --echo` (which rejoins through the bookmark) prints alice's room message with `room` and
    `nick` and answers `echo: <text>` in the room, which alice's next run catches up."""
    alice, bob = await new_account("alice"), await new_account("bob")
    room = f"listen-room@{prosody.muc_domain}"
    created = await runner.run(alice, "muc", "join", room, "--nick", "alice", "--member", bob.jid)
    assert created.code == 0, created.err
    joined = await runner.run(bob, "muc", "join", room, "--nick", "bob")
    assert joined.code == 0, joined.err
    listener = await runner.start(
        bob, "listen", "--count", "1", "--timeout", "60", "--json", "--echo"
    )
    try:
        await listener.wait_ready()
        sent = await runner.run(alice, "muc", "send", room, "hello listeners")
        assert sent.code == 0, sent.err
        message = await listener.next_json()
        assert await listener.wait() == 0, "".join(listener.stderr)
    finally:
        await listener.stop()
    assert (
        message["peer"],
        message["room"],
        message["nick"],
        message["text"],
        message["direction"],
        message["omemo"],
    ) == (room, room, "alice", "hello listeners", "in", "2")
    caught_up = await runner.run(alice, "muc", "members", room)
    assert caught_up.code == 0, caught_up.err
    history = await runner.run(alice, "history", room, "--json")
    assert history.code == 0, history.err
    # by archive id: the room's delay stamps have whole seconds, so time order may swap them
    rows = sorted((json.loads(line) for line in history.out.splitlines()), key=lambda r: r["id"])
    assert [(row["nick"], row["text"]) for row in rows] == [
        ("alice", "hello listeners"),
        ("bob", "echo: hello listeners"),
    ]
    assert [row["direction"] for row in rows] == ["out", "in"]
    assert {row["room"] for row in rows} == {room}


async def test_listen_without_rooms_prints_no_room_fields(
    runner: CliRunner,
    new_account: Callable[[str], Awaitable[Account]],
) -> None:
    """With no bookmarked room `listen` still starts (and stops) cleanly, and `muc --help`
    is part of the real command line."""
    alice = await new_account("alice")
    quiet = await runner.run(alice, "listen", "--timeout", "2", "--json")
    assert (quiet.code, quiet.out) == (0, ""), quiet.err
    helped = await runner.run(alice, "muc", "--help")
    assert helped.code == 0
    assert "join" in helped.out
    assert "send" in helped.out
