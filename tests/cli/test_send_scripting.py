"""`send` as scripts use it, over Prosody: text from stdin or a file, several recipients,
rooms, the remembered plaintext choice, `-q`, a closed stdout after delivery; `listen` ends
cleanly on SIGHUP; a room we are not in is refused and leaves nothing behind."""

from __future__ import annotations

import asyncio
import json
import shlex
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.cli.conftest import ROOT, Account, CliRunner, Result, subscribe_both
from tests.prosody import ProsodyServer

pytestmark = [pytest.mark.prosody, pytest.mark.slow]

NewAccount = Callable[[str], Awaitable[Account]]


def texts(out: str) -> list[str]:
    return [json.loads(line)["text"] for line in out.splitlines()]


async def _with_closed_stdout(runner: CliRunner, account: Account, *args: str) -> Result:
    """Run the CLI with file descriptor 1 closed (`… >&-`)."""
    command = shlex.join(runner.argv(account, *args)) + " >&-"
    process = await asyncio.create_subprocess_exec(
        "/bin/sh", "-c", command, stdin=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, env=runner.env, cwd=ROOT,
    )  # fmt: skip
    _out, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode is not None
    return Result(process.returncode, "", err.decode())


async def test_send_reads_stdin_and_files_and_reaches_several_recipients(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount, tmp_path: Path
) -> None:
    alice, bob = await new_account("alice"), await new_account("bob")
    await subscribe_both(prosody, alice, bob)
    assert (await runner.run(bob, "listen", "--timeout", "2")).code == 0  # publishes bob
    carol, _password = prosody.create_account()  # no OMEMO device

    piped = await runner.run(alice, "send", bob.jid, stdin="from stdin\n")
    assert (piped.code, piped.out) == (0, f"sent to {bob.jid} with OMEMO 2\n"), piped.err
    letter = tmp_path / "letter.txt"
    letter.write_text("from a file\nwith two lines\n", encoding="utf-8")
    quiet = await runner.run(alice, "send", "-q", bob.jid, "-m", str(letter))
    assert (quiet.code, quiet.out, quiet.err) == (0, "", "")
    empty = await runner.run(alice, "send", bob.jid, stdin="\n")
    assert empty.code == 2
    assert "empty" in empty.err

    both = await runner.run(alice, "send", bob.jid, carol, "-", stdin="to both")
    assert both.code == 3, both.err  # carol has no device; bob got it
    assert both.out == f"sent to {bob.jid} with OMEMO 2\n"
    assert f"tui-omemo: {carol}: " in both.err
    assert "--allow-plaintext" in both.err

    chosen = await runner.run(alice, "send", carol, "plain on purpose", "--allow-plaintext")
    assert (chosen.code, chosen.out) == (0, f"sent to {carol} with plaintext\n"), chosen.err
    remembered = await runner.run(alice, "send", carol, "still plain")
    assert remembered.code == 0, remembered.err

    closed = await _with_closed_stdout(runner, alice, "send", bob.jid, "stdout was closed")
    assert (closed.code, closed.err) == (0, "")

    got = await runner.run(bob, "listen", "--timeout", "5", "--json")
    assert texts(got.out) == [
        "from stdin",
        "from a file\nwith two lines",
        "to both",
        "stdout was closed",
    ], got.err


async def test_listen_ends_cleanly_on_sighup(runner: CliRunner, new_account: NewAccount) -> None:
    alice = await new_account("alice")
    listener = await runner.start(alice, "listen", "--json")
    try:
        await listener.wait_ready()
        listener.process.send_signal(signal.SIGHUP)
        assert await listener.wait() == 0
        assert listener.process.stderr is not None
        rest = (await listener.process.stderr.read()).decode()
    finally:
        await listener.stop()
    assert "stopped" in rest
    assert "Traceback" not in rest


async def test_send_in_rooms_and_nothing_left_behind_by_a_room_we_are_not_in(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount
) -> None:
    """`send ROOM` to a joined room sends in the room; `muc send` and `send --room` to a room
    we are not in are refused and join, create or bookmark nothing (a later `send --room`
    is refused the same way instead of finding itself in the room)."""
    alice, bob = await new_account("alice"), await new_account("bob")
    room = f"scripts@{prosody.muc_domain}"
    created = await runner.run(alice, "muc", "join", room, "--nick", "alice", "--member", bob.jid)
    assert created.code == 0, created.err
    assert (await runner.run(bob, "muc", "join", room, "--nick", "bob")).code == 0
    sent = await runner.run(alice, "send", room, "to the room")
    assert (sent.code, sent.out) == (0, f"sent to {room} with OMEMO 2\n"), sent.err
    got = await runner.run(bob, "listen", "--from", room, "--count", "1", "--timeout", "20",
                           "--json")  # fmt: skip
    assert texts(got.out) == ["to the room"], got.err

    elsewhere = f"nobody-here@{prosody.muc_domain}"
    refused = await runner.run(alice, "muc", "send", elsewhere, "hello?")
    assert refused.code == 1
    assert "not in the room" in refused.err
    again = await runner.run(alice, "send", "--room", elsewhere, "hello?")
    assert again.code == 1
    assert "not in the room" in again.err
