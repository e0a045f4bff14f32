"""A served command's progress line never makes the running instance wait: the caller's
terminal is stopped (Ctrl-S) and nobody reads it, yet the instance's event loop keeps
running, the command finishes with its final output complete, and the next command is
served; the caller's own descriptor keeps its blocking mode."""

from __future__ import annotations

import asyncio
import fcntl
import os
import termios
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from tui_omemo.commands import frontends
from tui_omemo.commands.console import Console
from tui_omemo.commands.progress_line import ProgressLine

RESUME_AFTER = 5.0
"""Seconds after which the terminal is started again (a regression then stalls, not hangs)."""


async def _upload_progress(console: Console) -> None:
    line = ProgressLine(console, "uploading", "big.bin")
    for done in range(101):
        line(done, 100)
        await asyncio.sleep(0)
    line.end()


def _dispatch(argv: list[str], console: Console) -> int:
    frontends.run(_upload_progress(console))  # on the instance's loop, as `send-file`
    console.out(f"sent {argv[0]}")
    return 0


def _caller(terminal: int, stdout: int) -> Console:
    """The caller's streams: no input, stdout a pipe, stderr the terminal."""
    return Console(
        open(os.devnull, encoding="utf-8"),  # the three are closed by the test
        open(stdout, "w", encoding="utf-8"),
        open(terminal, "w", encoding="utf-8", closefd=False),
        {},
        lambda: None,
    )


def _read_all(fd: int) -> str:
    with open(fd, encoding="utf-8") as stream:
        return stream.read()


@pytest.fixture
def stopped_terminal() -> Iterator[int]:
    """The slave of a pseudo-terminal whose output is stopped (XOFF) and never read."""
    master, slave = os.openpty()
    termios.tcflow(slave, termios.TCOOFF)
    resume = threading.Timer(RESUME_AFTER, termios.tcflow, (slave, termios.TCOON))
    resume.start()
    try:
        yield slave
    finally:
        resume.cancel()
        os.close(slave)
        os.close(master)


async def test_a_stopped_terminal_never_stops_the_running_instance(
    stopped_terminal: int, tmp_path: Path
) -> None:
    """See the module docstring; the loop never stalls for half a second."""
    loop = asyncio.get_running_loop()
    running = SimpleNamespace(
        service=SimpleNamespace(
            runner=SimpleNamespace(database=SimpleNamespace(directory=tmp_path))
        )
    )
    stalls: list[float] = []

    async def watch() -> None:
        while True:
            started = loop.time()
            await asyncio.sleep(0.01)
            stalls.append(loop.time() - started)

    read_end, write_end = os.pipe()
    console = _caller(stopped_terminal, write_end)
    token = frontends.DISPATCH.set(_dispatch)
    watcher = asyncio.create_task(watch())
    try:
        async with frontends.serving(running):  # type: ignore[arg-type]
            for word in ("first", "second"):
                status = await asyncio.to_thread(frontends.forward, tmp_path, [word], console)
                assert status == 0
        await asyncio.sleep(0.05)  # the watcher had its turns
    finally:
        watcher.cancel()
        frontends.DISPATCH.reset(token)
        for stream in (console.stdin, console.stdout, console.stderr):
            stream.close()
    assert _read_all(read_end) == "sent first\nsent second\n"
    assert max(stalls) < 0.5, max(stalls)
    assert not fcntl.fcntl(stopped_terminal, fcntl.F_GETFL) & os.O_NONBLOCK
