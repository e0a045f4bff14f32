"""Helpers for the command-line tests: run `cli.main` in-process with our own streams,
environment and keyring, or `python -m tui_omemo.cli` as a subprocess.

`Cli` remembers a profile directory and an environment, so a test reads like a shell session:
``cli("account", "add", "a@localhost")``.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keyring.backends.fail
import pytest

from tui_omemo.cli import main
from tui_omemo.commands.console import Console
from tui_omemo.store import KeyringBackend

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
