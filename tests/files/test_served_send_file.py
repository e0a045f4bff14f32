"""`send-file` served by the instance that holds the profile (issue 17 × issue 18): while
`listen` holds Bob's profile, Bob's `send-file` is run by it (not refused as "profile in use"),
with the output and status it has alone; its PATH reaches the instance as the caller names it
(absolute, `~` expanded with the caller's HOME, the caller's own descriptors never read as the
instance's), and a path the instance cannot read fails in one line with nothing sent."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import pty
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.cli.conftest import ROOT, Account, CliRunner, subscribe_both
from tests.prosody import ProsodyServer
from tests.service.conftest import Peer, PeerFactory, make_peer  # noqa: F401 (fixture)
from tui_omemo.cli import build_parser
from tui_omemo.commands.console import Console
from tui_omemo.commands.file_args import handed_over
from tui_omemo.model import Namespace
from tui_omemo.protocol.media_link import file_link
from tui_omemo.service.api import MessageReceived
from tui_omemo.service.files import download_file
from tui_omemo.xmpp.http_files import HttpFiles

NewAccount = Callable[[str], Awaitable[Account]]


def _handed_over(*argv: str) -> list[str] | None:
    console = Console(io.StringIO(), io.StringIO(), io.StringIO(), {}, lambda: None)
    return handed_over(build_parser(console).parse_args(argv), list(argv), Path("/w"))


@pytest.mark.parametrize(
    ("argv", "path_at"),
    [
        (["send-file", "b@localhost", "notes.txt"], 2),
        (["--profile", "p", "send-file", "--omemo", "2", "b@localhost", "2"], 6),
        (["send-file", "--om=0.3", "--time", "5", "--room", "r@x", "5", "-q"], 6),
        (["send-file", "--json", "b@localhost", "--", "-notes.txt"], 4),
        (["send-file", "b@localhost", "-1", "--passphrase-file", "f"], 2),
    ],
)
def test_the_path_of_send_file_is_handed_over_absolute(argv: list[str], path_at: int) -> None:
    """Only PATH becomes absolute (from the caller's working directory), found among option
    values that look the same, after `--`, or looking like a negative number; every other
    word is handed over as typed."""
    expected = list(argv)
    expected[path_at] = f"/w/{argv[path_at]}"
    assert _handed_over(*argv) == expected


def test_home_and_the_callers_own_descriptors_are_resolved_by_the_caller() -> None:
    """`~` is the caller's home; `/dev/stdin` and `/dev/fd/N` would be the instance's own
    descriptors there (its database, its terminal): they go as the caller's `/proc/PID/fd/N`."""
    pid = os.getpid()
    home = Path(os.path.realpath(Path.home()))
    assert _handed_over("send-file", "b@localhost", "~/x.jpg") == [
        "send-file", "b@localhost", str(home / "x.jpg"),
    ]  # fmt: skip
    for word, fd in (("/dev/stdin", 0), ("/dev/fd/3", 3), ("/proc/self/fd/4", 4)):
        handed = _handed_over("send-file", "b@localhost", word)
        assert handed == ["send-file", "b@localhost", f"/proc/{pid}/fd/{fd}"], word


async def _on_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run `argv` with its stderr on a terminal (a pty): status, stdout, what the pty got."""
    master, slave = pty.openpty()
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=slave, env=env, cwd=ROOT,
        )  # fmt: skip
        os.close(slave)
        out, _ = await asyncio.wait_for(process.communicate(), 90)
        written = b""
        with contextlib.suppress(OSError):  # EIO: the writer is gone and all was read
            while chunk := os.read(master, 4096):
                written += chunk
    finally:
        os.close(master)
    assert process.returncode is not None
    return process.returncode, out.decode(), written.decode()


@pytest.mark.prosody
@pytest.mark.slow
async def test_listen_serves_send_file(
    prosody: ProsodyServer,
    runner: CliRunner,
    new_account: NewAccount,
    make_peer: PeerFactory,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    """`listen` holds Bob's profile; `send-file --omemo 0.3 alice ~/notes.txt` typed with
    another HOME is served by it, prints what it prints alone, draws its progress line on the
    caller's terminal (its stderr), and Alice gets exactly one file message (OMEMO 0.3) whose
    download has the file's SHA-256; a missing file is one line, status 1, nothing sent."""
    bob = await new_account("bob")
    a_jid, a_password = prosody.create_account()
    await subscribe_both(prosody, bob, Account(a_jid, a_password, tmp_path / "a"))
    alice: Peer = await make_peer((a_jid, a_password))
    alice.start_pump()
    home = tmp_path / "home"
    home.mkdir()
    content = os.urandom(70_000)
    (home / "notes.txt").write_bytes(content)
    listener = await runner.start(bob, "listen")
    try:
        await listener.wait_ready()
        argv = runner.argv(bob, "send-file", "--omemo", "0.3", alice.jid, "~/notes.txt")
        code, out, terminal = await _on_a_terminal(argv, {**runner.env, "HOME": str(home)})
        assert (code, out) == (0, f"sent notes.txt to {alice.jid}\n"), terminal
        assert terminal.startswith("\ruploading notes.txt: "), terminal
        assert terminal.endswith("uploading notes.txt: 100% (68.4 KiB of 68.4 KiB)\r\n")
        missing = await runner.run(bob, "send-file", alice.jid, "gone.txt")
        assert (missing.code, missing.out) == (1, ""), missing.err
        assert missing.err == f"tui-omemo: no such file: {ROOT / 'gone.txt'}\n"
    finally:
        await listener.stop()
    received = (await alice.next_message()).message
    assert received.omemo is Namespace.LEGACY
    link = file_link(received.body)
    assert link is not None
    saved = await download_file(HttpFiles(None, allow_plaintext_loopback=True), link, tmp_path)
    assert saved.sha256 == hashlib.sha256(content).hexdigest()
    await asyncio.sleep(1)  # a second copy would have arrived by now
    assert not [e for e in alice.drain_events() if isinstance(e, MessageReceived)]
