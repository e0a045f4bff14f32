"""One profile, several front ends (issue 17): while `listen` holds a profile, the other
commands on that profile are served by it over the Unix socket in the profile directory, with
the output and exit status they have alone; a socket left by a killed process is removed."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import stat
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.cli.conftest import Account, Cli, CliRunner, subscribe_both
from tests.prosody import ProsodyServer
from tests.service.conftest import Peer, PeerFactory, make_peer  # noqa: F401 (fixture)
from tui_omemo.commands import frontends
from tui_omemo.commands.frontends import SOCKET_NAME
from tui_omemo.service.api import MessageReceived, Presence, RosterChanged

NewAccount = Callable[[str], Awaitable[Account]]


def test_a_stale_socket_is_removed_and_the_command_runs_alone(cli: Cli) -> None:
    """A socket nobody listens on (its process was killed) does not stop a command: it is
    removed and the command opens the profile itself."""
    assert cli("account", "add", "alice@localhost", "--password-stdin", stdin="pw\n").code == 0
    path = cli.profile / SOCKET_NAME
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(path))  # bound, never listening, closed: what a killed process leaves
    result = cli("history", "bob@localhost")
    assert result.code == 0, result.err
    assert not path.exists()


def test_file_paths_handed_to_the_running_instance_are_absolute() -> None:
    """The instance has another working directory: `-m FILE` and `download --dir DIR` reach
    it as absolute paths (`~` expanded for `--dir`, as `download` does); other words stay."""
    home = Path.home()
    argv = ["download", "a@localhost", "7", "--dir", "in", "--dir=~/x", "--json"]
    assert frontends.with_absolute_paths(argv, Path("/work")) == [
        "download", "a@localhost", "7", "--dir", "/work/in", f"--dir={home / 'x'}", "--json",
    ]  # fmt: skip
    assert frontends.with_absolute_paths(["send", "-m", "t.txt", "b@localhost"], Path("/w")) == [
        "send", "-m", "/w/t.txt", "b@localhost",
    ]  # fmt: skip


@pytest.mark.prosody
@pytest.mark.slow
async def test_listen_serves_send_history_and_settings(
    prosody: ProsodyServer,
    runner: CliRunner,
    new_account: NewAccount,
    make_peer: PeerFactory,  # noqa: F811 (the fixture imported above)
) -> None:
    """`listen --echo` holds profile b; `send a hi` on b is served by it (instead of "profile
    in use"), says where it went, and a gets exactly one message; `history`, `status` (a sees
    b away at once), and a refused `settings` value with its usage status 2, come through the
    same way; the socket is the owner's only and goes when listen ends."""
    b = await new_account("b")
    a_jid, a_password = prosody.create_account()
    await subscribe_both(prosody, b, Account(a_jid, a_password, b.profile.parent / "a"))
    a: Peer = await make_peer((a_jid, a_password))
    a.start_pump()
    listener = await runner.start(b, "listen", "--echo")
    try:
        await listener.wait_ready()
        path = b.profile / SOCKET_NAME
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        sent = await runner.run(b, "send", a.jid, "hi")
        assert (sent.code, sent.out) == (0, f"sent to {a.jid} with OMEMO 2\n"), sent.err
        assert (await a.next_message()).message.body == "hi"
        history = await runner.run(b, "history", a.jid)
        assert history.code == 0, history.err
        assert history.out.count("hi") == 1
        away = await runner.run(b, "status", "away", "back", "soon")
        assert (away.code, away.out) == (0, "away: back soon\n"), away.err
        async with asyncio.timeout(30):  # listen told the contacts at once
            while (row := (await a.next_event(RosterChanged)).chat).status_text != "back soon":
                pass
        assert row.presence is Presence.AWAY
        refused = await runner.run(b, "settings", "trust_mode", "sometimes")
        assert refused.code == 2
        assert "trust_mode" in refused.err
        await asyncio.sleep(1)  # an echo or a second copy would have arrived by now
        assert not [e for e in a.drain_events() if isinstance(e, MessageReceived)]
        assert path.is_socket()
    finally:
        await listener.stop()
    assert not path.is_socket()


CHILD = """
import os, socket, struct, sys
os.setuid(65534)
client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
client.connect(sys.argv[1])
request = b'{"argv": ["history", "x@localhost"]}'
try:
    socket.send_fds(client, [struct.pack("!I", len(request))], [0, 1, 2])
    client.sendall(request)
    print("answered" if client.recv(4) else "closed")
except (BrokenPipeError, ConnectionResetError):
    print("closed")
"""


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to connect as another user")
async def test_another_user_is_refused_by_its_peer_credentials() -> None:
    """Even where another user could reach the socket (modes opened up for this test), a
    connection from another uid is closed unanswered and runs nothing."""
    ran: list[Sequence[str]] = []
    runner = SimpleNamespace(database=SimpleNamespace(directory=None))
    directory = Path(tempfile.mkdtemp(prefix="h-social-"))
    runner.database.directory = directory
    running = SimpleNamespace(service=SimpleNamespace(runner=runner))
    token = frontends.DISPATCH.set(lambda argv, _console: ran.append(argv) or 0)
    try:
        async with frontends.serving(running):  # type: ignore[arg-type]
            os.chmod(directory, 0o755)
            os.chmod(directory / SOCKET_NAME, 0o777)
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-c", CHILD, str(directory / SOCKET_NAME),
                stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, _ = await asyncio.wait_for(child.communicate(), 30)
    finally:
        frontends.DISPATCH.reset(token)
        shutil.rmtree(directory, ignore_errors=True)
    assert out.decode().strip() == "closed"  # without an exit status
    assert ran == []
