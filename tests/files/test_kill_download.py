"""A download killed with SIGKILL half-way leaves nothing under the file's final name (only a
hidden temporary file), and the next download into that directory clears the leftover once it
is old enough (an hour: no download still running), never a finished file."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.cli.conftest import ROOT, subprocess_env
from tests.files.conftest import MakeFiles
from tui_omemo.service.downloads import LEFTOVER_AGE, TEMP_PREFIX
from tui_omemo.service.files import download_file, upload_file

pytestmark = pytest.mark.prosody

# Downloads the link in argv[1] into argv[2], slowed down after every chunk so the test can
# kill it half-way; says "started" once the first chunk is written.
SLOW_DOWNLOAD = """
import asyncio, sys, time
from pathlib import Path
from tui_omemo.protocol.media import parse_link
from tui_omemo.service.files import download_file
from tui_omemo.xmpp.http_files import HttpFiles

def progress(done, total):
    print("started", flush=True)
    time.sleep(0.2)

asyncio.run(download_file(HttpFiles(None, allow_plaintext_loopback=True),
                          parse_link(sys.argv[1]), Path(sys.argv[2]), progress))
print("finished", flush=True)
"""


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def _names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


async def test_kill_9_during_download_leaves_no_file(files: MakeFiles, tmp_path: Path) -> None:
    """SIGKILL after the first chunk: the directory holds no file under a visible name. A
    later download keeps the young leftover (it could be a download still running), and the
    one after it, an hour on, removes it but not an as old finished file."""
    alice = await files()
    link = await upload_file(alice, _write(tmp_path / "big.bin", os.urandom(3 * 1024 * 1024)))
    downloads = tmp_path / "downloads"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SLOW_DOWNLOAD, link.text(), str(downloads),
        stdout=asyncio.subprocess.PIPE, env=subprocess_env(), cwd=ROOT,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert line == b"started\n"
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
    (leftover,) = _names(downloads)
    assert leftover.startswith(TEMP_PREFIX)

    finished = _write(downloads / "old.bin", b"kept")
    fresh = await download_file(alice, link, downloads)
    assert _names(downloads) == sorted([leftover, "old.bin", fresh.path.name])  # still young
    old = time.time() - LEFTOVER_AGE - 60
    for path in (downloads / leftover, finished):
        os.utime(path, (old, old))
    again = await download_file(alice, link, downloads)
    assert _names(downloads) == sorted(["old.bin", fresh.path.name, again.path.name])
    assert finished.read_bytes() == b"kept"
