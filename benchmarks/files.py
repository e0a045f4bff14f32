"""Encrypted file sharing: upload + download of one file through Prosody's mod_http_file_share,
encrypted (XEP-0454, our streaming cipher) against the plain HTTP transfer of the same file in
the same run, and the peak memory the encrypted transfer costs.

Run on demand: ``python -m benchmarks.files [--mib 50] [--rounds 1]``.

One account on a throwaway loopback Prosody (upload limit just above the file). Per round, in
this order: the encrypted transfer (`service.files.upload_file` then `download_file` into a
scratch directory, tag checked, SHA-256 computed), then the plain one (a slot for the
plaintext, a PUT of the file, a GET read to the end and thrown away). MB/s is MiB of
plaintext moved (up + down) per second. Peak memory is the largest resident size sampled
every 10 ms during the encrypted transfer minus the resident size when idle (before it,
after a warm-up transfer of 1 MiB so libraries and connections are loaded). Targets (issue
18): ratio ≥ 0.6×, peak < 64 MiB above idle.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import aiohttp

from devtools.prosody import ProsodyServer
from tui_omemo.service.files import download_file, upload_file
from tui_omemo.xmpp.client import XmppClient
from tui_omemo.xmpp.http_files import READ_CHUNK, HttpFiles

MIB = 1024 * 1024


def _rss_mib() -> float:
    """Resident size now (from /proc/self/statm)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / MIB


class _PeakSampler:
    """Samples the resident size every 10 ms while a transfer runs (the process's lifetime
    high-water mark would include what happened before, e.g. making the payload)."""

    def __init__(self) -> None:
        self.peak = _rss_mib()
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, _rss_mib())
            await asyncio.sleep(0.01)

    def __enter__(self) -> _PeakSampler:
        self._task = asyncio.get_running_loop().create_task(self._sample())
        return self

    def __exit__(self, *_exc: object) -> None:
        self.peak = max(self.peak, _rss_mib())
        if self._task is not None:
            self._task.cancel()


def _make_file(path: Path, size: int) -> None:
    with path.open("wb") as out:
        for _ in range(size // MIB):
            out.write(os.urandom(MIB))
        out.write(os.urandom(size % MIB))


async def encrypted(files: HttpFiles, source: Path, scratch: Path) -> float:
    """Seconds for upload + download of `source`, encrypted."""
    started = time.perf_counter()
    link = await upload_file(files, source)
    saved = await download_file(files, link, scratch)
    elapsed = time.perf_counter() - started
    saved.path.unlink()
    return elapsed


async def plain(files: HttpFiles, source: Path, size: int) -> float:
    """Seconds for upload + download of `source` over the same service, unencrypted: the
    PUT is aiohttp's own upload of the open file (as slixmpp's `xep_0363.upload_file` does
    it), the GET read to the end and thrown away."""
    started = time.perf_counter()
    slot = await files.request_slot(os.urandom(8).hex() + ".bin", size, "application/octet-stream")
    headers = {"Content-Type": "application/octet-stream", **dict(slot.headers)}
    async with aiohttp.ClientSession() as session:
        with source.open("rb") as body:
            async with session.put(slot.put_url, data=body, headers=headers) as response:
                response.raise_for_status()
        async with session.get(slot.get_url) as response:
            async for _chunk in response.content.iter_chunked(READ_CHUNK):
                pass
    return time.perf_counter() - started


async def run(args: argparse.Namespace) -> None:
    size = args.mib * MIB
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        server = ProsodyServer.start(scratch / "prosody", upload_limit=size + MIB)
        client: XmppClient | None = None
        try:
            jid, password = server.create_account()
            client = XmppClient(
                jid, password, host=server.host, port=server.port, allow_plaintext_loopback=True
            )
            await client.connect(within=20, announce=False)
            files = HttpFiles(client, allow_plaintext_loopback=True)
            source, warm = scratch / "payload.bin", scratch / "warm.bin"
            _make_file(source, size)
            _make_file(warm, MIB)
            downloads = scratch / "downloads"
            await encrypted(files, warm, downloads)
            await plain(files, warm, MIB)
            idle = _rss_mib()
            for round_number in range(args.rounds):
                with _PeakSampler() as sampler:
                    secure = await encrypted(files, source, downloads)
                peak = sampler.peak - idle
                clear = await plain(files, source, size)
                moved = 2 * args.mib
                print(
                    f"round {round_number + 1}: {args.mib} MiB up+down — encrypted "
                    f"{moved / secure:.1f} MiB/s ({secure:.2f} s), plain HTTP "
                    f"{moved / clear:.1f} MiB/s ({clear:.2f} s), ratio {clear / secure:.2f}×; "
                    f"peak memory {peak:.1f} MiB above idle ({idle:.1f} MiB)"
                )
        finally:
            if client is not None:
                await client.disconnect()
            server.stop()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=50, help="file size in MiB (default 50)")
    parser.add_argument("--rounds", type=int, default=1)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(run(parse_args()))
