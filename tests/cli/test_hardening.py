"""The real program forbids core dumps at start (a core would hold the key, the password and
decrypted text): RLIMIT_CORE 0, soft and hard, and on Linux not dumpable."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

import pytest

from tests.cli.conftest import ROOT, subprocess_env

_CHILD = """
import contextlib, ctypes, io, json, resource, sys
from tui_omemo.cli import main
soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))  # as after `ulimit -c unlimited`
libc = ctypes.CDLL(None)
before = [resource.getrlimit(resource.RLIMIT_CORE)[0], libc.prctl(3, 0, 0, 0, 0)]
with contextlib.redirect_stdout(io.StringIO()):
    code = main(["--help"])
after = [*resource.getrlimit(resource.RLIMIT_CORE), libc.prctl(3, 0, 0, 0, 0)]
print(json.dumps({"code": code, "before": before, "after": after}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
@pytest.mark.skipif(
    resource.getrlimit(resource.RLIMIT_CORE)[1] == 0, reason="core dumps are already off"
)
def test_main_switches_core_dumps_off() -> None:
    """A process allowed to dump core (limit raised, dumpable) no longer is once `main` ran:
    soft and hard RLIMIT_CORE are 0 and PR_GET_DUMPABLE says 0."""
    result = subprocess.run(
        [sys.executable, "-c", _CHILD],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    report = json.loads(result.stdout)
    assert report["code"] == 0
    assert report["before"][0] != 0
    assert report["before"][1] == 1
    assert report["after"] == [0, 0, 0]
