"""Peer text is data: the one place where text from other people is made safe to show.

Message bodies, nicknames, status texts and room subjects come from the network. They are never
parsed as Rich/Textual markup (callers wrap them in `rich.text.Text`, which does not parse), and
before that `neutral()` removes what a terminal or the bidi algorithm would act on: ANSI escape
sequences, C0/C1 control characters and the Unicode bidi controls that can reorder what a person
reads (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F, U+061C).
"""

from __future__ import annotations

import re

from rich.style import Style
from rich.text import Text

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_CONTROLS = "".join(chr(c) for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)] if c != 0x0A)
_DROP = str.maketrans(dict.fromkeys(_CONTROLS + _BIDI, "�") | {"\t": "    ", "\r": ""})


def neutral(text: str, *, single_line: bool = False) -> str:
    """`text` without escape sequences, control or bidi characters.

    Args:
        text: text from a peer (or anyone else outside the program).
        single_line: also turn line breaks into spaces (nicks, status texts, roster rows).

    Returns:
        Printable text: escapes removed, other controls shown as U+FFFD, tabs as spaces.
    """
    cleaned = _ANSI.sub("", text).translate(_DROP)
    return cleaned.replace("\n", " ") if single_line else cleaned


def peer_text(text: str, style: Style | str = "", *, single_line: bool = False) -> Text:
    """A Rich `Text` (never parsed as markup) holding neutralised peer text."""
    return Text(neutral(text, single_line=single_line), style=style, no_wrap=single_line)
