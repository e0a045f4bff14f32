"""Helpers for the command-line tests: run `cli.main` in-process with our own streams,
environment and keyring, or `python -m tui_omemo.cli` as a subprocess.

`Cli` remembers a profile directory and an environment, so a test reads like a shell session:
``cli("account", "add", "a@localhost")``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keyring.backends.fail
import pytest

from tests.prosody import ProsodyServer
from tui_omemo.cli import main
from tui_omemo.commands.console import Console
from tui_omemo.store import KeyringBackend

if TYPE_CHECKING:
    from tests.cli.omemo_peer import OmemoPeer

PASSPHRASE = "correct horse battery staple"
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Result:
    """What one run printed and returned."""

    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


@dataclass
class Cli:
    """Runs `tui-omemo --profile <profile> ARGS…` in-process."""

    profile: Path
    environ: dict[str, str] = field(default_factory=dict)
    keyring: Callable[[], KeyringBackend | None] = keyring.backends.fail.Keyring

    def __call__(self, *args: str, stdin: str = "", profile: bool = True) -> Result:
        out, err = io.StringIO(), io.StringIO()
        console = Console(io.StringIO(stdin), out, err, dict(self.environ), self.keyring)
        argv = (["--profile", str(self.profile)] if profile else []) + list(args)
        code = main(argv, console)
        return Result(code, out.getvalue(), err.getvalue())


class DictKeyring:
    """A working keyring backend in a dict. Deliberately not a `keyring.backend.KeyringBackend`
    subclass: those register themselves and `keyring.get_keyring()` would chain them in."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.entries[(service, username)]


def file_digests(directory: Path) -> dict[str, str]:
    """Every file of a directory with the sha256 of its content ("nothing changed" checks)."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.iterdir())
        if path.is_file()
    }


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """A CLI with no OS keyring and the passphrase in TUI_OMEMO_PASSPHRASE."""
    return Cli(tmp_path / "profile", {"TUI_OMEMO_PASSPHRASE": PASSPHRASE})


def subprocess_env(**extra: str) -> dict[str, str]:
    """An environment for `python -m tui_omemo.cli` with no OS keyring, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUI_OMEMO_")}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def run_subprocess(
    *args: str, env: dict[str, str], stdin: str = "", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `python -m tui_omemo.cli ARGS…` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "tui_omemo.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


# --- over the real Prosody ---------------------------------------------------------------


@dataclass
class Account:
    """An account on the test Prosody with its own profile directory."""

    jid: str
    password: str
    profile: Path


class CliRunner:
    """Runs `python -m tui_omemo.cli` as subprocesses from async tests (the CLI runs its own
    event loop, so it cannot run in-process beside the test's)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def argv(self, account: Account, *args: str) -> list[str]:
        return [sys.executable, "-m", "tui_omemo.cli", "--profile", str(account.profile), *args]

    async def run(
        self, account: Account, *args: str, stdin: str = "", wait: float = 90, **env: str
    ) -> Result:
        process = await asyncio.create_subprocess_exec(
            *self.argv(account, *args),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**self.env, **env},
            cwd=ROOT,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(stdin.encode()), wait)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        assert process.returncode is not None
        return Result(process.returncode, out.decode(), err.decode())

    async def start(self, account: Account, *args: str, **env: str) -> Listener:
        """Start a long-running command (listen) and return a handle to it."""
        process = await asyncio.create_subprocess_exec(
            *self.argv(account, *args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**self.env, **env},
            cwd=ROOT,
            start_new_session=True,
        )
        return Listener(process)


class Listener:
    """A running `tui-omemo listen`: wait until it is ready, read its JSON lines, stop it."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.stderr: list[str] = []

    async def wait_ready(self, wait: float = 60) -> None:
        """Wait for the "listening as" line on stderr (or fail with what it printed)."""
        assert self.process.stderr is not None
        async with asyncio.timeout(wait):
            while True:
                line = (await self.process.stderr.readline()).decode()
                if not line:
                    await self.process.wait()
                    raise AssertionError(f"listen ended early: {''.join(self.stderr)}")
                self.stderr.append(line)
                if "listening as" in line:
                    return

    async def next_json(self, wait: float = 60) -> dict[str, Any]:
        """The next message it printed."""
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), wait)
        assert line, f"listen ended: {''.join(self.stderr)}"
        value: dict[str, Any] = json.loads(line)
        return value

    async def wait(self, wait: float = 60) -> int:
        """Its exit status, once it ends by itself."""
        return await asyncio.wait_for(self.process.wait(), wait)

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL, the process this handle started."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for CLI subprocesses: no keyring, a passphrase."""
    return subprocess_env(TUI_OMEMO_PASSPHRASE=PASSPHRASE)


@pytest.fixture
def runner(cli_env: dict[str, str]) -> CliRunner:
    return CliRunner(cli_env)


@pytest.fixture
def new_account(
    prosody: ProsodyServer, runner: CliRunner, tmp_path: Path
) -> Callable[[str], Awaitable[Account]]:
    """Registers an account on Prosody and creates its profile with `account add`."""

    async def make(name: str) -> Account:
        jid, password = prosody.create_account()
        account = Account(jid, password, tmp_path / f"profile-{name}")
        result = await runner.run(
            account, "account", "add", jid, "--server", f"{prosody.host}:{prosody.port}",
            "--password-stdin", "--allow-plaintext-loopback", stdin=password + "\n",
        )  # fmt: skip
        assert result.code == 0, result.err
        return account

    return make


async def subscribe_both(server: ProsodyServer, first: Account, second: Account) -> None:
    """Make two accounts contacts (mutual presence subscription) with plain slixmpp."""
    import slixmpp

    clients = []
    for account in (first, second):
        client = slixmpp.ClientXMPP(account.jid, account.password)
        client.enable_direct_tls = False
        client.enable_starttls = False
        client.enable_plaintext = True
        client.plugin["feature_mechanisms"].unencrypted_scram = True
        client.auto_authorize = True
        client.auto_subscribe = True
        started = asyncio.get_running_loop().create_future()
        client.add_event_handler("session_start", lambda _e, f=started: f.done() or f.set_result(1))
        client.connect(server.host, server.port)
        await asyncio.wait_for(started, 30)
        await client.get_roster()
        client.send_presence()
        clients.append(client)
    clients[0].send_presence_subscription(pto=second.jid)
    async with asyncio.timeout(30):
        for _ in iter(int, 1):  # until both rosters say "both" (slixmpp has no event to await)
            if (
                clients[0].client_roster[second.jid]["subscription"] == "both"
                and clients[1].client_roster[first.jid]["subscription"] == "both"
            ):
                break
            await asyncio.sleep(0.05)
    for client in clients:
        client.disconnect()
        await client.disconnected


@contextlib.asynccontextmanager
async def omemo_peer_of(
    server: ProsodyServer, runner: CliRunner, account: Account
) -> AsyncIterator[OmemoPeer]:
    """A python-omemo peer (slixmpp-omemo) in a new account, a contact of `account` both ways,
    started once `account` has published its device (one short `listen`) and knowing its
    device list; stopped at the end."""
    from tests.cli.omemo_peer import OmemoPeer

    jid, password = server.create_account()
    await subscribe_both(server, account, Account(jid, password, account.profile))
    first = await runner.run(account, "listen", "--timeout", "3")
    assert first.code == 0, first.err
    peer = await OmemoPeer.start(server, jid, password)
    try:
        await peer.refresh(account.jid)
        yield peer
        assert not peer.errors, peer.errors
    finally:
        await peer.stop()
