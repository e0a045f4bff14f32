"""Fingerprints as people compare them: 8 groups of 8 hex digits, each group its own colour.

The colours come from tcss (`fingerprint--g0` … `fingerprint--g7` component classes of the widget
that shows them), so that a theme decides them; this module only cuts and styles.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.style import Style
from rich.text import Text

GROUP_CLASSES = tuple(f"fingerprint--g{index}" for index in range(8))
"""Component class names, one per group, to be listed in a widget's COMPONENT_CLASSES."""


def groups(fingerprint: str) -> list[str]:
    """The fingerprint in groups of 8 characters (lower-case, spaces removed)."""
    compact = "".join(fingerprint.split()).lower()
    return [compact[start : start + 8] for start in range(0, len(compact), 8)]


def fingerprint_text(fingerprint: str, styles: Sequence[Style], *, per_line: int = 8) -> Text:
    """The grouped fingerprint; `per_line` groups per line (4 → two lines)."""
    text = Text(no_wrap=True)
    for index, group in enumerate(groups(fingerprint)):
        if index:
            text.append("\n" if index % per_line == 0 else " ")
        text.append(group, styles[index % len(styles)] if styles else "")
    return text
