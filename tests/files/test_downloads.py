"""Saving a received file: a name that cannot escape the downloads directory, never an
overwrite, and nothing under the final name unless the caller commits."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tui_omemo.protocol.media_link import NAME_LIMIT, numbered, safe_name
from tui_omemo.service.downloads import TEMP_PREFIX, AtomicFile, remove_leftovers


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        ("photo.jpg", "photo.jpg"),
        ("../../x", "_.._x"),
        ("..", "file"),
        (".", "file"),
        ("", "file"),
        ("/etc/passwd", "_etc_passwd"),
        ("C:\\Windows\\evil.exe", "C:_Windows_evil.exe"),
        (".bashrc", "bashrc"),
        ("a\x00b\x1b[31mc\n.txt", "ab[31mc.txt"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),
        ("name. ", "name"),
        ("  many   spaces  .txt", "many spaces .txt"),
    ],
)
def test_hostile_names_become_plain_names(hint: str, expected: str) -> None:
    """No separators, no leading dot, no `..` alone, no control or bidi-override characters."""
    assert safe_name(hint) == expected


def test_a_long_name_is_cut_keeping_the_extension() -> None:
    """A 300-character name fits file systems' 255-byte limit and keeps `.pdf`."""
    name = safe_name("é" * 300 + ".pdf")
    assert name.endswith(".pdf")
    assert len(name.encode()) <= NAME_LIMIT


def test_a_long_extension_is_not_kept_whole() -> None:
    """An 'extension' of 300 characters is just part of the name, and cut."""
    assert len(safe_name("a." + "b" * 300).encode()) <= NAME_LIMIT


@pytest.mark.parametrize(
    ("name", "number", "expected"),
    [("a.txt", 0, "a.txt"), ("a.txt", 1, "a (1).txt"), ("README", 2, "README (2)")],
)
def test_copies_are_numbered_before_the_extension(name: str, number: int, expected: str) -> None:
    """Like file managers and Conversations: `name (1).ext`."""
    assert numbered(name, number) == expected


def test_a_committed_file_never_overwrites(tmp_path: Path) -> None:
    """Two saves under the same name give `a.txt` and `a (1).txt`; the first is untouched."""
    (tmp_path / "a.txt").write_bytes(b"mine")
    with AtomicFile(tmp_path, "a.txt") as target:
        target.write(b"theirs")
        path = target.commit()
    assert path == tmp_path / "a (1).txt"
    assert path.read_bytes() == b"theirs"
    assert (tmp_path / "a.txt").read_bytes() == b"mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a (1).txt", "a.txt"]


def test_a_hostile_name_lands_inside_the_directory(tmp_path: Path) -> None:
    """`../../x` and an absolute path are saved in the directory, nowhere else."""
    inside = tmp_path / "downloads"
    for hint in ("../../x", "/tmp/abs"):
        with AtomicFile(inside, hint) as target:
            target.write(b"1")
            assert target.commit().parent == inside
    assert sorted(p.name for p in tmp_path.iterdir()) == ["downloads"]


def test_an_exception_leaves_nothing(tmp_path: Path) -> None:
    """A failure before commit (e.g. the tag check) deletes the temporary file."""

    def fail_midway() -> None:
        with AtomicFile(tmp_path, "a.txt") as target:
            target.write(b"unverified")
            raise RuntimeError("tag")

    with pytest.raises(RuntimeError):
        fail_midway()
    assert list(tmp_path.iterdir()) == []


def test_leftovers_of_a_killed_download_are_hidden_and_cleared(tmp_path: Path) -> None:
    """Until commit the bytes sit under a hidden temporary name only; old ones get removed,
    a fresh one (a download running elsewhere) is kept."""
    target = AtomicFile(tmp_path, "a.txt")
    target.write(b"partial")
    target.stream.flush()
    (leftover,) = tmp_path.iterdir()
    assert leftover.name.startswith(TEMP_PREFIX)
    assert remove_leftovers(tmp_path) == 0
    old = time.time() - 7200
    os.utime(leftover, (old, old))
    assert remove_leftovers(tmp_path) == 1
    target.stream.close()
    assert list(tmp_path.iterdir()) == []
