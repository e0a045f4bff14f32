"""Output that nobody reads ends quietly: a closed pipe, a closed or full stdout never turn
into a traceback or a failure status; Ctrl-C while starting up prints no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import PASSPHRASE, ROOT, Cli, subprocess_env
from tui_omemo import cli as cli_module
from tui_omemo import entry
from tui_omemo.model import TrustLevel
from tui_omemo.store import Direction, KeyringKeys, NewMessage, open_profile

ENV = subprocess_env(TUI_OMEMO_PASSPHRASE=PASSPHRASE)


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One profile for the module (created offline) with 2,000 messages from bob."""
    return _profile(tmp_path_factory.mktemp("pipes"), 2000)


def _profile(tmp_path: Path, messages: int) -> Path:
    """A profile (created offline) with `messages` archived messages from bob."""
    profile = tmp_path / "profile"
    created = subprocess.run(
        [sys.executable, "-m", "tui_omemo.cli", "--profile", str(profile), "account", "add",
         "alice@localhost", "--server", "127.0.0.1:9", "--password-stdin",
         "--allow-plaintext-loopback"],
        input="pw\n", text=True, capture_output=True, env=ENV, cwd=ROOT, check=False,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    with open_profile(profile, KeyringKeys(None), PASSPHRASE) as db, db.unit_of_work() as uow:
        for index in range(messages):
            uow.archive.append(NewMessage(
                peer="bob@localhost", direction=Direction.IN, sender_bare_jid="bob@localhost",
                body=f"message {index} " + "x" * 200, timestamp=1_764_000_000_000 + index,
                received_at=1_764_000_000_000 + index, dedupe_keys=(f"k{index}",),
                sender_device=4242, trust=TrustLevel.BLINDLY_TRUSTED, omemo_version="2",
            ))  # fmt: skip
    return profile


def _run_into_closed_pipe(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with stdout a pipe whose reading end is already closed (`… | head -0`)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "tui_omemo.cli", *args],
            stdout=write, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT, timeout=60,
            check=False,
        )  # fmt: skip
    finally:
        os.close(write)


def _run_shell(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", "-c", command], capture_output=True, text=True, env=ENV, cwd=ROOT,
        timeout=60, check=False,
    )  # fmt: skip


CLI = f"{sys.executable} -m tui_omemo.cli"


def test_history_into_a_pipe_that_head_closed_ends_quietly(profile: Path) -> None:
    """`history JID --json | head -1` over 2,000 messages: head gets its line, history ends
    with status 0 and nothing on stderr (no BrokenPipeError)."""
    done = _run_shell(
        f"{CLI} --profile {profile} history bob@localhost --json --limit 2000 | head -1"
    )
    assert done.stdout.count("\n") == 1
    assert "Traceback" not in done.stderr
    assert "BrokenPipe" not in done.stderr
    closed = _run_into_closed_pipe(
        "--profile", str(profile), "history", "bob@localhost", "--json", "--limit", "2000"
    )
    assert (closed.returncode, closed.stderr) == (0, "")


@pytest.mark.parametrize(
    "args",
    [("--help",), ("send", "--help"), ("settings",), ("history", "--after", "0", "--json")],
)
def test_every_command_ends_quietly_into_a_closed_pipe(
    profile: Path, args: tuple[str, ...]
) -> None:
    """Commands without a server, writing into a pipe nobody reads: status 0, stderr empty."""
    closed = _run_into_closed_pipe("--profile", str(profile), *args)
    assert (closed.returncode, closed.stderr) == (0, "")


def test_closed_and_full_stdout_are_not_failures(profile: Path) -> None:
    """`>&-` and `> /dev/full`: the command did its work; status 0, no traceback."""
    for redirect in (">&-", "> /dev/full"):
        done = _run_shell(f"{CLI} --profile {profile} history bob@localhost {redirect}")
        assert (done.returncode, done.stderr) == (0, ""), redirect
    changed = _run_shell(f"{CLI} --profile {profile} settings add_body_hint off >&-")
    assert (changed.returncode, changed.stderr) == (0, "")
    shown = _run_shell(f"{CLI} --profile {profile} settings add_body_hint")
    assert shown.stdout.strip() == "add_body_hint = off"


def test_ctrl_c_while_starting_is_status_130_without_traceback(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C before the command runs (while the parser is built or modules load)."""

    def interrupted(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_module, "build_parser", interrupted)
    result = cli("history", "bob@localhost")
    assert (result.code, result.out) == (130, "")
    assert "Traceback" not in result.err


def test_ctrl_c_while_the_command_line_loads_is_status_130(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The console script's entry point: Ctrl-C during `import tui_omemo.cli` itself."""

    class Interrupting:
        def find_spec(self, name: str, *_args: object) -> None:
            if name == "tui_omemo.cli":
                raise KeyboardInterrupt

    monkeypatch.delitem(sys.modules, "tui_omemo.cli")
    monkeypatch.setattr(sys, "meta_path", [Interrupting(), *sys.meta_path])
    assert entry.run() == 130
