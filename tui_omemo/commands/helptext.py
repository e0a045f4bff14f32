"""The "examples:" block at the end of each command's `--help` (kept as written)."""

from __future__ import annotations


def examples(*lines: str) -> str:
    """An epilog listing `lines` as example command lines."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)
