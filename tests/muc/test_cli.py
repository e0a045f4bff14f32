"""`tui-omemo muc join|send|members|leave` as subprocesses over Prosody."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest

from tests.cli.conftest import Account, CliRunner
from tests.prosody import ProsodyServer

pytestmark = [pytest.mark.prosody, pytest.mark.slow]


async def test_join_send_members_leave(
    prosody: ProsodyServer,
    runner: CliRunner,
    new_account: Callable[[str], Awaitable[Account]],
) -> None:
    """alice creates an OMEMO room with bob as member; bob joins (bookmarked); alice sends
    from a later run (rejoined through the bookmark); bob's next run catches the message up
    from the room archive; `members --json` shows the real readiness; `leave` leaves."""
    muc = runner
    alice, bob = await new_account("alice"), await new_account("bob")
    room = f"cli-room@{prosody.muc_domain}"
    created = await muc.run(
        alice, "muc", "join", room, "--nick", "alice", "--member", bob.jid, "--json"
    )
    assert created.code == 0, created.err
    info = json.loads(created.out)
    assert (info["room"], info["nick"], info["encrypted"], info["refusal"]) == (
        room,
        "alice",
        True,
        None,
    )
    joined = await muc.run(bob, "muc", "join", room, "--nick", "bob")
    assert joined.code == 0, joined.err
    assert "OMEMO: on" in joined.out
    sent = await muc.run(alice, "muc", "send", room, "hello room")
    assert sent.code == 0, sent.err
    assert f"sent to {room} with OMEMO 2" in sent.out
    members = await muc.run(bob, "muc", "members", room, "--json")
    assert members.code == 0, members.err
    rows = [json.loads(line) for line in members.out.splitlines()]
    assert [
        (
            r["jid"],
            r["affiliation"],
            r["has_keys"],
            r["trusted"],
            r["undecided"],
            r["distrusted"],
            r["last_error"],
        )
        for r in rows
    ] == [(alice.jid, "owner", True, 1, 0, 0, None)]
    history = await runner.run(bob, "history", room, "--json")
    assert history.code == 0, history.err
    assert [json.loads(line)["text"] for line in history.out.splitlines()] == ["hello room"]
    left = await muc.run(bob, "muc", "leave", room)
    assert (left.code, left.out.strip()) == (0, f"left {room}")
