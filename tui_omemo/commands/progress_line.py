"""`uploading name: 42% (2.1 MiB of 5.0 MiB)`: a file command's progress line on stderr.

The line is shown only when stderr is a terminal, and rewritten in place. Progress is
disposable, a command's final output is not. Run alone, the line is written to stderr as is.
Served by the running app or `listen` (`commands/frontends.py`), the command's coroutine runs
on the instance's event loop, where a write to the caller's terminal that waits (the terminal
stopped with Ctrl-S, or slow) would stop the whole instance: there the line goes through a
non-blocking descriptor of its own on the caller's terminal (the terminal opened again through
`/proc/self/fd`, so the descriptor the caller handed over keeps its blocking mode and the
final output still waits until it is all written), and an update that would wait is dropped.
"""

from __future__ import annotations

import contextlib
import io
import os

from tui_omemo.commands import frontends
from tui_omemo.commands.console import Console
from tui_omemo.service.files import human_size


class ProgressLine:
    """Hears (bytes done, bytes in all or None) and shows the percentage when it changes."""

    def __init__(self, console: Console, verb: str, name: str) -> None:
        self._console = console
        self._label = f"{verb} {name}"
        self._shown = -1
        isatty = getattr(console.stderr, "isatty", None)
        self._live = bool(isatty and isatty())
        self._fd: int | None = None
        if self._live and frontends.borrowed_online() is not None:
            self._fd = _nonblocking_copy(console)
            self._live = self._fd is not None

    def __call__(self, done: int, total: int | None) -> None:
        if not self._live:
            return
        percent = 100 * done // total if total else 0
        if percent == self._shown:
            return
        self._shown = percent
        of = f" of {human_size(total)}" if total else ""
        self._write(f"\r{self._label}: {percent}% ({human_size(done)}{of})")

    def end(self) -> None:
        """End the line (before the command's own output) and let go of the terminal."""
        if self._live and self._shown >= 0:
            self._write("\n")
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._live = False

    def _write(self, text: str) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):  # BlockingIOError: this update is dropped
                os.write(self._fd, text.encode())
            return
        with contextlib.suppress(OSError, ValueError):
            self._console.stderr.write(text)
            self._console.stderr.flush()


def _nonblocking_copy(console: Console) -> int | None:
    """The caller's terminal (stderr) opened again, non-blocking; None when it cannot be."""
    try:
        fd = console.stderr.fileno()
        flags = os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
        return os.open(f"/proc/self/fd/{fd}", flags)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return None
