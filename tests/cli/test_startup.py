"""Start-up stays light: `--help` and `history --json` load nothing of the service, XMPP or
the OMEMO libraries, and a passphrase profile never loads keyring (whole fresh processes;
the timings themselves are `benchmarks/startup.py`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import PASSPHRASE, ROOT, subprocess_env

HEAVY = ("slixmpp", "doubleratchet", "x3dh", "keyring", "textual", "cryptography",
         "tui_omemo.service", "tui_omemo.xmpp.client", "tui_omemo.protocol.engine")  # fmt: skip
PROBE = """
import io, json, sys
from tui_omemo.cli import main
from tui_omemo.commands.console import Console
code = main(sys.argv[1:], Console(stdout=io.StringIO(), stderr=io.StringIO()))
print(json.dumps([code, sorted(sys.modules)]))
"""


def _loaded(*args: str) -> tuple[int, set[str]]:
    env = subprocess_env(TUI_OMEMO_PASSPHRASE=PASSPHRASE)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env,
        cwd=ROOT, check=True, timeout=60,
    )  # fmt: skip
    code, modules = json.loads(done.stdout)
    return code, set(modules)


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_help_loads_nothing_heavy() -> None:
    code, modules = _loaded("--help")
    assert code == 0
    assert _heavy(modules) == []
    assert "sqlcipher3" not in modules


def test_history_json_loads_only_the_store(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    env = subprocess_env(TUI_OMEMO_PASSPHRASE=PASSPHRASE)
    subprocess.run(
        [sys.executable, "-m", "tui_omemo.cli", "--profile", str(profile), "account", "add",
         "a@localhost", "--password-stdin"],
        input="pw\n", capture_output=True, text=True, env=env, cwd=ROOT, check=True, timeout=60,
    )  # fmt: skip
    code, modules = _loaded("--profile", str(profile), "history", "b@localhost", "--json")
    assert code == 0
    assert _heavy(modules) == []
    assert "sqlcipher3" in modules
