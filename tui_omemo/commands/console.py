"""What a command may touch of the outside world, handed in by the composition root.

`Console` bundles the standard streams, the environment and the keyring backend factory, so
tests can run `cli.main([...], console)` in-process with their own streams and keyring, and
nothing reads `os.environ` or calls `keyring.get_keyring()` behind their back.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # the store is imported only by the commands that open a profile
    from tui_omemo.service.profiles import KeyringBackend


def default_keyring() -> KeyringBackend | None:
    """The platform's keyring backend (`keyring.get_keyring()`), or None if it cannot load."""
    import keyring

    try:
        backend: KeyringBackend = keyring.get_keyring()
    except Exception:  # a broken keyring configuration means: no keyring
        return None
    return backend


@dataclass(frozen=True, slots=True)
class Console:
    """Streams, environment and keyring of one command-line run."""

    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    keyring: Callable[[], KeyringBackend | None] = default_keyring

    def out(self, line: str = "") -> None:
        """Print one line on stdout (flushed, so pipes and tests see it at once).

        Raises:
            OutputClosed: stdout is closed, full or a pipe nobody reads any more; the line
                was not (entirely) written.
        """
        try:
            self.stdout.write(line + "\n")
            self.stdout.flush()
        except (OSError, ValueError, AttributeError) as error:  # AttributeError: `>&-`
            _discard(self.stdout)
            raise OutputClosed(str(error)) from None

    def err(self, line: str) -> None:
        """Print one line on stderr (nothing happens when stderr is closed)."""
        try:
            self.stderr.write(line + "\n")
            self.stderr.flush()
        except (OSError, ValueError, AttributeError):
            _discard(self.stderr)


class OutputClosed(Exception):
    """Standard output cannot be written any more (closed, full, or its reader went away).

    Not a failure of the command: what it did is done, and `cli.main` ends quietly with the
    status the command had reached (0 unless it had already failed).
    """


def _discard(stream: TextIO | None) -> None:
    """Point a real standard stream at /dev/null, so the interpreter's final flush of what is
    still buffered cannot fail with a `BrokenPipeError` message on the way out."""
    try:
        fileno = stream.fileno() if stream is not None else -1
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return
    if fileno in (1, 2):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fileno)
        os.close(devnull)


class CommandError(Exception):
    """An expected failure of a command: `str()` is the one line shown, `exit_code` the status.

    Args:
        message: one sentence a person can act on (no secrets, no message text).
        exit_code: 1 for failures, 2 for usage errors and a missing passphrase.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class UsageError(CommandError):
    """The command line is wrong (exit status 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 2)
