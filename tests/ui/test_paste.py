"""A bracketed paste holding escape sequences (colours copied from a terminal) arrives as one
paste, in order, without the sequences; the app reads the terminal with that parser."""

from __future__ import annotations

from textual import events
from textual._xterm_parser import XTermParser
from textual.drivers import linux_driver

from tests.ui.helpers import make_app
from tui_omemo.ui.paste import PasteSafeParser

PASTED = "\x1b[200~AAA \x1b[31mBBB\x1b[0m CCC\x1b[201~"


def parse(parser: XTermParser, *chunks: str) -> list[object]:
    return [token for chunk in chunks for token in parser.feed(chunk)]


def test_a_paste_with_escape_sequences_is_one_paste_in_order() -> None:
    """In one read or cut into single characters: one Paste "AAA BBB CCC", no key presses."""
    for chunks in ([PASTED], list(PASTED)):
        tokens = parse(PasteSafeParser(), *chunks)
        assert [type(token) for token in tokens] == [events.Paste]
        assert tokens[0].text == "AAA BBB CCC"  # type: ignore[attr-defined]


def test_keys_around_a_paste_are_keys() -> None:
    """Typing before and after a paste still types, in order."""
    tokens = parse(PasteSafeParser(), "x" + PASTED + "y")
    assert [getattr(t, "key", None) or getattr(t, "text", None) for t in tokens] == [
        "x",
        "AAA BBB CCC",
        "y",
    ]


def test_the_app_reads_the_terminal_with_the_paste_safe_parser() -> None:
    """Picking its driver, the app makes the Linux driver use `PasteSafeParser`."""
    make_app().get_driver_class()
    assert linux_driver.XTermParser is PasteSafeParser  # type: ignore[attr-defined]
