"""Start-up benchmark: whole `tui-omemo` processes, beside a bare `python -c pass`.

Run on demand: ``python -m benchmarks.startup [--runs N] [--root DIR ...]``.

Each command is run N times (default 10) as a fresh process, the runs of all commands
interleaved so that a neighbour's burst of load hits them alike; the median wall time of each
is printed in milliseconds and as a multiple of ``python -c pass`` measured in the same run,
with the load average (the machine is shared). Measured: ``--help``, ``send --help`` and
``history JID --json`` on a profile keyed by a passphrase (no keyring, no server needed).

``--root DIR`` (repeatable) measures the `tui_omemo` of another checkout too (for example an
export of the commit before a change), with the same profile, in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PASSPHRASE = "startup benchmark passphrase"
JID = "bench@localhost"


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUI_OMEMO_")}
    env.update(
        PYTHONPATH=str(root),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        TUI_OMEMO_PASSPHRASE=PASSPHRASE,
    )
    return env


def _make_profile(directory: Path) -> None:
    """A profile with an account (created offline) and an empty archive."""
    subprocess.run(
        [sys.executable, "-m", "tui_omemo.cli", "--profile", str(directory), "account", "add",
         JID, "--server", "127.0.0.1:9", "--password-stdin", "--allow-plaintext-loopback"],
        input="password\n", text=True, capture_output=True, env=_env(ROOT), cwd=ROOT, check=True,
    )  # fmt: skip


def _commands(profile: Path) -> dict[str, list[str]]:
    cli = [sys.executable, "-m", "tui_omemo.cli"]
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "--help": [*cli, "--help"],
        "send --help": [*cli, "send", "--help"],
        "history --json": [*cli, "--profile", str(profile), "history", JID, "--json"],
    }


def _once(argv: list[str], root: Path) -> float:
    """One run, from `root` (`python -m` puts the working directory first on the path)."""
    started = time.perf_counter()
    subprocess.run(argv, env=_env(root), cwd=root, capture_output=True, check=True)
    return time.perf_counter() - started


def measure(roots: list[Path], runs: int) -> dict[tuple[str, str], float]:
    """Median seconds per (root, command)."""
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="tui-omemo-startup-") as tmp:
        profile = Path(tmp) / "profile"
        _make_profile(profile)
        for _ in range(runs):
            for root in roots:
                for name, argv in _commands(profile).items():
                    times.setdefault((str(root), name), []).append(_once(argv, root))
    return {key: statistics.median(values) for key, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--root", type=Path, action="append", default=[])
    args = parser.parse_args()
    roots = [ROOT, *args.root]
    before = os.getloadavg()
    medians = measure(roots, args.runs)
    after = os.getloadavg()
    print(f"load average before {before[0]:.2f}, after {after[0]:.2f} (1 min)")
    for root in roots:
        base = medians[(str(root), "python -c pass")]
        print(f"{root}:")
        for (where, name), seconds in medians.items():
            if where == str(root):
                ratio = seconds / base
                print(f"  {name:16} {seconds * 1000:7.1f} ms  {ratio:5.1f}x python -c pass")


if __name__ == "__main__":
    main()
