"""A download killed with SIGKILL half-way leaves nothing under the file's final name (only a
hidden temporary file, which `remove_leftovers` clears later)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import ROOT, subprocess_env
from tests.files.conftest import MakeFiles
from tui_omemo.service.downloads import TEMP_PREFIX
from tui_omemo.service.files import upload_file

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
    """SIGKILL after the first chunk: the directory holds no file under a visible name."""
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
    names = _names(downloads)
    assert names
    assert all(name.startswith(TEMP_PREFIX) for name in names)
