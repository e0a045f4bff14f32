"""The progress line `send-file` and `download` write on a terminal's stderr, fed by a real
upload and download over Prosody's upload service: rewritten in place (`\\r`), whole percents
that only grow, up to 100% with the size in words, one newline at the end; nothing at all
when stderr is not a terminal (a pipe or a log keeps only the result)."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest

from tests.files.conftest import MakeFiles
from tui_omemo.commands.console import Console
from tui_omemo.commands.progress_line import ProgressLine
from tui_omemo.service.files import download_file, upload_file

pytestmark = pytest.mark.prosody
SIZE = 600 * 1024  # a few chunks each way


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def _console(stderr: io.StringIO) -> Console:
    return Console(io.StringIO(), io.StringIO(), stderr, {}, lambda: None)


def _percents(written: str, label: str) -> list[int]:
    assert written.startswith("\r")
    assert written.endswith("\n")
    updates = written.removesuffix("\n").split("\r")[1:]
    pattern = re.compile(rf"{re.escape(label)}: (\d+)% \([0-9.]+ (?:bytes|KiB) of 600\.0 KiB\)")
    matches = [pattern.fullmatch(update) for update in updates]
    assert all(matches), updates
    return [int(match[1]) for match in matches if match]


async def test_upload_and_download_show_a_progress_line_on_a_terminal_only(
    files: MakeFiles, tmp_path: Path
) -> None:
    """See the module docstring: a terminal gets growing percents up to 100% both ways, a
    pipe nothing."""
    alice = await files()
    source = tmp_path / "notes.txt"
    source.write_bytes(os.urandom(SIZE))
    terminal, pipe = Terminal(), io.StringIO()

    line = ProgressLine(_console(terminal), "uploading", source.name)
    link = await upload_file(alice, source, line)
    line.end()
    silent = ProgressLine(_console(pipe), "downloading", "notes.txt")
    await download_file(alice, link, tmp_path / "first", silent)
    silent.end()
    assert pipe.getvalue() == ""

    up = _percents(terminal.getvalue(), "uploading notes.txt")
    terminal.seek(0)
    terminal.truncate()
    line = ProgressLine(_console(terminal), "downloading", "notes.txt")
    await download_file(alice, link, tmp_path / "second", line)
    line.end()
    down = _percents(terminal.getvalue(), "downloading notes.txt")
    for percents in (up, down):
        assert percents == sorted(set(percents))  # each percent once, never backwards
        assert len(percents) > 1
        assert percents[-1] == 100
