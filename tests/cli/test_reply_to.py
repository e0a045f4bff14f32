"""`send --reply-to ID` between two profiles through the real Prosody (issue #17, XEP-0461):
ID is the `id` that `listen --json` printed; the reply goes out while `listen` holds the
profile (served over its socket); an id that is no message of the chat is refused in one line
with status 1 and sends nothing; both sides' `listen`/`history --json` show the reply without
its quote, with `reply_to` naming the answered message (the same id on both sides)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.cli.conftest import Account, Cli, CliRunner, subscribe_both
from tests.prosody import ProsodyServer
from tui_omemo.commands import exits

NewAccount = Callable[[str], Awaitable[Account]]


@pytest.mark.parametrize(
    "argv",
    [
        ["bob@localhost", "hi", "--reply-to", "1", "--correct-last"],
        ["bob@localhost", "carol@localhost", "hi", "--reply-to", "1"],
        ["bob@localhost", "hi", "--reply-to", "x"],
    ],
    ids=["with --correct-last", "two recipients", "not a number"],
)
def test_reply_to_usage_errors(cli: Cli, argv: list[str]) -> None:
    """A reply answers one message of one chat and is no correction: anything else is a usage
    error (status 2; its last line names the option) before the profile is opened."""
    result = cli("send", *argv)
    assert result.code == exits.USAGE, result.err
    assert "--reply-to" in result.err_lines[-1], result.err


@pytest.mark.prosody
@pytest.mark.slow
async def test_reply_to_an_id_that_listen_printed(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount
) -> None:
    alice, bob = await new_account("alice"), await new_account("bob")
    await subscribe_both(prosody, alice, bob)
    listener = await runner.start(bob, "listen", "--json", "--timeout", "120")
    try:
        await listener.wait_ready()
        sent = await runner.run(alice, "send", bob.jid, "lunch at noon?")
        assert sent.code == 0, sent.err
        asked = await listener.next_json()
        wrong = str(asked["id"] + 1000)
        unknown = await runner.run(bob, "send", alice.jid, "no", "--reply-to", wrong)
        assert unknown.code == exits.FAILURE, unknown.err
        assert len(unknown.err_lines) == 1
        assert f"--reply-to {wrong}" in unknown.err
        reply = ("yes, noon", "--reply-to", str(asked["id"]))
        replied = await runner.run(bob, "send", alice.jid, *reply)  # served by the listener
        assert replied.code == 0, replied.err
    finally:
        await listener.stop()
    heard = await runner.run(alice, "listen", "--count", "1", "--json", "--timeout", "60")
    assert heard.code == 0, heard.err
    answer = json.loads(heard.out)
    assert answer["text"] == "yes, noon"  # the quote is left out; "no" was never sent
    assert answer["reply_to"] == asked["message_id"]  # a script can match the two
    assert answer["reply_to"]

    for account, peer in ((alice, bob), (bob, alice)):
        history = await runner.run(account, "history", peer.jid, "--json")
        assert history.code == 0, history.err
        rows: list[dict[str, Any]] = [json.loads(line) for line in history.out.splitlines()]
        assert [(row["text"], row["reply_to"]) for row in rows] == [
            ("lunch at noon?", None),
            ("yes, noon", answer["reply_to"]),
        ]


@pytest.mark.prosody
@pytest.mark.slow
async def test_a_room_reply_takes_send_partial(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount
) -> None:
    """In a room where dave has no keys, `send ROOM TEXT --reply-to ID` is refused (status 3)
    in one line that names `--partial`, and sends nothing; with `--partial` the reply goes to
    everyone with keys, as a reply to bob's message (its delivery to a member is pinned in
    tests/contract and tests/muc)."""
    alice, bob = await new_account("alice"), await new_account("bob")
    dave, _ = prosody.create_account()  # never logs in: no OMEMO device
    room = f"partial-replies@{prosody.muc_domain}"
    members = ("--member", bob.jid, "--member", dave)
    created = await runner.run(alice, "muc", "join", room, "--nick", "alice", *members)
    assert created.code == 0, created.err
    assert (await runner.run(bob, "muc", "join", room, "--nick", "bob")).code == 0
    asked = await runner.run(bob, "muc", "send", room, "tea at five?", "--partial")
    assert asked.code == 0, asked.err
    heard = await runner.run(alice, "listen", "--from", room, "--count", "1", "--json",
                             "--timeout", "20")  # fmt: skip
    question = json.loads(heard.out)

    reply = ("send", room, "five is fine", "--reply-to", str(question["id"]))
    refused = await runner.run(alice, *reply)
    assert refused.code == exits.NO_DEVICE, refused.err
    assert "--partial" in refused.err_lines[-1]
    assert dave in refused.err
    replied = await runner.run(alice, *reply, "--partial")
    assert replied.code == 0, replied.err
    history = await runner.run(alice, "history", room, "--json")
    assert history.code == 0, history.err
    rows = [json.loads(line) for line in history.out.splitlines()]
    assert [(row["text"], row["reply_to"]) for row in rows if row["direction"] == "out"] == [
        ("five is fine", question["stanza_id"])  # a room reply names the room's stanza-id
    ]
