"""`scripts/demo.py` end to end without a terminal: Prosody, two profiles, the echo contact,
one encrypted exchange per OMEMO version, and nothing left running afterwards."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from tests.cli.conftest import ROOT

pytestmark = [pytest.mark.prosody, pytest.mark.slow]

# The demo keeps its profile keys in the OS keyring when one works; here it uses passphrases,
# so it never races the keyring tests running beside it on the same Secret Service.
NO_KEYRING = "keyring.backends.fail.Keyring"


def test_demo_runs_the_scripted_exchange_and_cleans_up() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUI_OMEMO_")}
    env["TUI_OMEMO_DEMO_NONINTERACTIVE"] = "1"
    env["PYTHON_KEYRING_BACKEND"] = NO_KEYRING
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fingerprint" in result.stdout
    for version in ("2", "0.3"):
        assert f"echo: hello over OMEMO {version} from the demo" in result.stdout
    # issue 18: bob's echo names the SHA-256 of the file he downloaded, the one alice sent
    sent, echoed = re.findall(r"SHA-256 ([0-9a-f]{64})", result.stdout)
    assert sent == echoed
    workdir = next(
        line.split("workdir ", 1)[1] for line in result.stdout.splitlines() if "workdir " in line
    )
    assert not os.path.exists(workdir)
    downloads = next(
        line.split("downloads go to ", 1)[1].split(" (", 1)[0]
        for line in result.stdout.splitlines()
        if "downloads go to " in line
    )
    assert downloads.startswith(workdir)  # bob's echo saved the file there, not in ~/Downloads


def test_ctrl_c_stops_everything_the_demo_started() -> None:
    """Ctrl+C (SIGINT) once the echo contact runs: exit 130, no process of the demo left,
    its directory gone."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUI_OMEMO_")}
    env["TUI_OMEMO_DEMO_NONINTERACTIVE"] = "1"
    env["PYTHON_KEYRING_BACKEND"] = NO_KEYRING
    demo = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "demo.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert demo.stdout is not None
        workdir = ""
        for line in demo.stdout:
            if "workdir " in line:
                workdir = line.split("workdir ", 1)[1].strip()
            if "answers every message" in line:
                break
        assert workdir
        demo.send_signal(signal.SIGINT)
        rest, err = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert demo.returncode == 130, rest + err
    assert "interrupted" in err
    assert not os.path.exists(workdir)
    leftovers = subprocess.run(
        ["pgrep", "-a", "-f", workdir], capture_output=True, text=True, check=False
    )
    assert leftovers.stdout == "", rest
