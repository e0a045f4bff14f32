"""Composition root: command-line arguments → settings → keyring → store → client → command or UI."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `tui-omemo` command (filled in by the foundation issue)."""
    del argv
    print("tui-omemo: not yet", file=sys.stderr)
    return 1
