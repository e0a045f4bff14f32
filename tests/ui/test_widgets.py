"""Widget-level rules that pictures cannot prove: QR fidelity, fingerprints, the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import segno
from rich.style import Style

from tests.fakes_ui import NOW
from tui_omemo.ui.clock import Clock
from tui_omemo.ui.widgets.fingerprint import fingerprint_text, groups
from tui_omemo.ui.widgets.qr_code import QUIET_ZONE, half_block_rows, half_block_text

URI = "xmpp:alice@example.org?omemo-sid-1001=" + "ab" * 32


def test_qr_half_blocks_reproduce_every_module_with_the_quiet_zone() -> None:
    """Decoding the glyphs gives back segno's matrix, 4-module quiet zone included.

    Each module is one cell wide and half a cell high, so modules come out square on a terminal
    whose cells are about twice as high as wide.
    """
    code = segno.make(URI, error="l", micro=False)
    expected = [[bool(m) for m in row] for row in code.matrix_iter(border=QUIET_ZONE)]
    text = half_block_text(half_block_rows(URI), Style(color="black", bgcolor="white"))
    upper = {"█": True, "▀": True, "▄": False, " ": False}
    lower = {"█": True, "▀": False, "▄": True, " ": False}
    decoded: list[list[bool]] = []
    for line in text.plain.split("\n"):
        decoded.append([upper[c] for c in line])
        decoded.append([lower[c] for c in line])
    assert decoded[: len(expected)] == expected
    assert all(not any(row) for row in decoded[len(expected) :])
    assert len(text.plain.split("\n")[0]) == len(expected[0])
    assert not any(decoded[0])
    assert not any(row[0] for row in decoded)


def test_fingerprint_is_eight_groups_of_eight_each_styled() -> None:
    """64 hex digits become 8 groups; with 4 per line, two lines; each group gets a style."""
    printed = "0123456789abcdef" * 4
    assert groups(printed.upper()) == [printed[i : i + 8] for i in range(0, 64, 8)]
    styles = [Style(color=f"color({i})") for i in range(8)]
    text = fingerprint_text(printed, styles, per_line=4)
    assert text.plain.count("\n") == 1
    assert len({span.style for span in text.spans}) == 8


def test_frozen_clock_formats_relative_to_its_now() -> None:
    """Today shows HH:MM, this week the weekday, older the date."""
    clock = Clock.frozen(NOW)
    assert clock.short(NOW - timedelta(minutes=5)) == "11:55"
    assert clock.short(NOW - timedelta(days=2)) == "Tue 24 12:00"
    assert clock.short(datetime(2025, 1, 2, 3, 4, tzinfo=UTC)) == "2025-01-02 03:04"
    assert clock.day(datetime(2025, 1, 2, 3, 4, tzinfo=UTC)) == "2025-01-02"


def test_every_style_file_exists_where_the_app_looks() -> None:
    """styles/ holds base.tcss and one file per screen; the app finds them (repo or wheel)."""
    from tui_omemo.ui.app import STYLE_FILES, styles_dir

    folder = styles_dir()
    assert {path.stem for path in folder.glob("*.tcss")} == set(STYLE_FILES)


def test_the_ui_never_styles_from_python_or_parses_markup_from_strings() -> None:
    """Colours live in tcss; nothing in ui/ builds Rich markup from a string."""
    from pathlib import Path

    import tui_omemo.ui

    root = Path(tui_omemo.ui.__file__).parent
    for source in root.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        assert ".styles." not in text, source
        assert "from_markup" not in text, source
        assert "markup=True" not in text, source
