"""What a command may touch of the outside world, handed in by the composition root.

`Console` bundles the standard streams, the environment and the keyring backend factory, so
tests can run `cli.main([...], console)` in-process with their own streams and keyring, and
nothing reads `os.environ` or calls `keyring.get_keyring()` behind their back.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TextIO

from tui_omemo.store import KeyringBackend


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
        """Print one line on stdout (flushed, so pipes and tests see it at once)."""
        self.stdout.write(line + "\n")
        self.stdout.flush()

    def err(self, line: str) -> None:
        """Print one line on stderr."""
        self.stderr.write(line + "\n")
        self.stderr.flush()


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
