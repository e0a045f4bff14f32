"""A terminal input parser that keeps a bracketed paste whole when it holds escape sequences.

Textual's `XTermParser` reads an ESC inside a bracketed paste as the start of a key sequence and
sends what follows as key presses *before* the paste itself: pasting `AAA \\e[31mBBB\\e[0m CCC`
typed `^[31mBBB^[0m CCC` and then inserted `AAA ` after it. `PasteSafeParser` cleans the text
between the paste markers before the parser sees it — escape sequences (colours copied from a
terminal) are dropped, any other ESC with them — so the parser reports one `Paste` with the text
in order, which the focused field inserts at its cursor. Outside a paste nothing changes (a lone
ESC is still the Escape key).

`use_paste_safe_parser()` makes Textual's Linux driver build this parser; the app calls it when
it picks its driver.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from textual._xterm_parser import BRACKETED_PASTE_END, BRACKETED_PASTE_START, XTermParser
from textual.message import Message

_SEQUENCE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]?")
_UNFINISHED = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*)?\Z")
"""An escape sequence cut at the end of a read (its end comes with the next one)."""


def _held_back(text: str) -> int:
    """Where the part of `text` starts that must wait for the next read: a beginning of the
    paste's end marker, or an unfinished escape sequence; len(text) when none."""
    for size in range(min(len(BRACKETED_PASTE_END) - 1, len(text)), 0, -1):
        if BRACKETED_PASTE_END.startswith(text[-size:]):
            return len(text) - size
    unfinished = _UNFINISHED.search(text)
    return unfinished.start() if unfinished else len(text)


class PasteSafeParser(XTermParser):
    """`XTermParser` fed pastes without escape sequences in them (see the module docstring)."""

    def __init__(self, debug: bool = False) -> None:
        super().__init__(debug)
        self._in_paste = False
        self._carry = ""
        self._tail = ""

    def feed(self, data: str) -> Iterable[Message]:
        """Parse `data` with the escape sequences inside pastes removed."""
        if not data:  # end of input
            return super().feed(data)
        cleaned = self.clean(data)
        return super().feed(cleaned) if cleaned else ()

    def clean(self, data: str) -> str:
        """`data` with every escape sequence between paste markers removed (the markers kept);
        a part that may continue in the next read is held back until then."""
        text, out = self._carry + data, []
        self._carry = ""
        while text:
            if not self._in_paste:
                seen = self._tail + text  # the start marker may come in two reads
                start = seen.find(BRACKETED_PASTE_START)
                if start < 0:
                    out.append(text)
                    self._tail = seen[-(len(BRACKETED_PASTE_START) - 1) :]
                    break
                cut = start + len(BRACKETED_PASTE_START) - len(self._tail)
                out.append(text[:cut])
                text, self._tail, self._in_paste = text[cut:], "", True
                continue
            end = text.find(BRACKETED_PASTE_END)
            if end < 0:
                keep = _held_back(text)
                out.append(_SEQUENCE.sub("", text[:keep]))
                self._carry = text[keep:]
                break
            out.append(_SEQUENCE.sub("", text[:end]) + BRACKETED_PASTE_END)
            text = text[end + len(BRACKETED_PASTE_END) :]
            self._in_paste = False
        return "".join(out)


def use_paste_safe_parser() -> None:
    """Make Textual's Linux driver read the terminal with `PasteSafeParser`."""
    try:  # only where that driver can be imported (not on Windows)
        from textual.drivers import linux_driver
    except ImportError:
        return
    setattr(linux_driver, "XTermParser", PasteSafeParser)  # noqa: B010 (a module global)
