"""`FilePickerDialog`: choose a file to send from a directory tree (issue 18), the key-driven
alternative to typing `/file PATH`.

Textual's `DirectoryTree`, starting in the user's home directory (hidden files left out):
arrows move, Enter opens a directory or picks a file, Backspace goes to the parent directory,
Escape cancels. Names on disk are shown as the tree renders them, never as markup.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Static

from tui_omemo.ui.text import neutral


class VisibleFiles(DirectoryTree):
    """A directory tree without hidden entries (dot files)."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [path for path in paths if not path.name.startswith(".")]


class FilePickerDialog(ModalScreen[Path | None]):
    """Returns the file chosen, or None."""

    DEFAULT_CSS = """
    FilePickerDialog > .dialog { height: 90%; width: 90%; }
    FilePickerDialog VisibleFiles { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("backspace", "parent", "Parent directory"),
    ]

    def __init__(self, start: Path | None = None) -> None:
        super().__init__()
        self._start = start if start is not None else Path.home()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Send a file (encrypted)", classes="dialog-title")
            yield Static(neutral(str(self._start), single_line=True), id="where", markup=False)
            yield VisibleFiles(self._start, id="files")
            yield Static("Enter: open or send · Backspace: up · Escape: cancel", classes="hint")

    def action_parent(self) -> None:
        """Show the parent of the directory shown."""
        tree = self.query_one(VisibleFiles)
        parent = Path(tree.path).resolve().parent
        tree.path = parent
        self.query_one("#where", Static).update(neutral(str(parent), single_line=True))

    @on(DirectoryTree.FileSelected)
    def _picked(self, event: DirectoryTree.FileSelected) -> None:
        self.dismiss(event.path)
