"""The `tui-omemo` program (the console script): Ctrl-C while the command line's modules are
still loading ends with status 130 and no traceback, like Ctrl-C at any later point."""

from __future__ import annotations

INTERRUPTED = 130


def run() -> int:
    """Load the command line and run it; the exit status."""
    try:
        from tui_omemo.cli import main

        return main()
    except KeyboardInterrupt:
        return INTERRUPTED
