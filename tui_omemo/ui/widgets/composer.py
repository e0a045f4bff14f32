"""`Composer`: the multi-line message input with input history.

Keys, chosen to work in every terminal: Enter sends; Ctrl+J (the line-feed key, which terminals
deliver distinctly from Enter) inserts a new line, and so do Alt+Enter (Escape, Enter) and
Shift+Enter in terminals that report it (kitty keyboard protocol). Up in an empty composer
edits our last message (XEP-0308 correction, as Gajim and Profanity do: Enter sends the
correction, Escape gives up); otherwise Up on the first line and Down on the last line walk
through what was sent before, like a shell. A line starting with "/"
is a command (`CommandEntered`, never sent; Tab completes its name); "//" sends a "/".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widgets import TextArea

from tui_omemo.ui.file_actions import complete_path
from tui_omemo.ui.slash import complete, is_command

FILE_COMMAND = "/file "

PLACEHOLDER = "Message · Enter sends · Ctrl+J new line · ↑ history"

NEWLINE_KEYS = frozenset({"ctrl+j", "shift+enter", "alt+enter"})


class Composer(TextArea):
    """A text area where Enter posts `Submitted` instead of inserting a line break."""

    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("⏎", "Send"),
        ("^j", "New line (also Alt+Enter)"),
        ("↑", "In an empty box: edit your last message, when it is a text (⏎ corrects)"),
        ("↑ ↓", "On the first / last line: what you sent before"),
    )
    """The keys the composer handles itself, for the help screen (they are not bindings)."""

    @dataclass
    class Submitted(Message):
        """The user pressed Enter on a non-blank draft."""

        composer: Composer
        text: str
        correction: bool = False
        """The text corrects our last message (the composer was editing it)."""
        reply_to: int | None = None
        """The archive id of the message the text answers (XEP-0461), or None."""

    @dataclass
    class CommandEntered(Message):
        """The user pressed Enter on a slash command (`ui.slash`); it is not sent."""

        composer: Composer
        text: str

    def __init__(
        self, *, id: str | None = None, last_own: Callable[[], str | None] | None = None
    ) -> None:
        """`last_own`: the text of our last message in the chat, which Up in an empty
        composer edits (None, or it returning None: Up walks the history)."""
        super().__init__(
            id=id,
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            placeholder=PLACEHOLDER,
        )
        self._history: list[str] = []
        self._position = 0
        self._draft = ""
        self._last_own = last_own
        self.editing = False
        """Enter sends a correction of our last message (Escape gives up)."""
        self.replying: int | None = None
        """The archive id of the message Enter answers (Escape gives up), or None."""

    def begin_reply(self, archive_id: int, label: str) -> None:
        """Answer the message `archive_id` (`label`, plain text, says which): Enter sends
        the text as a reply."""
        self.replying = archive_id
        self.add_class("-editing")
        self.border_title = Text(f"replying to {label} · Enter sends · Esc cancels")
        self.focus()

    def end_reply(self) -> None:
        """Back to composing new messages (the text stays)."""
        self.replying = None
        self.remove_class("-editing")
        self.border_title = None

    def begin_edit(self, text: str) -> None:
        """Edit our last message: its text in the composer, Enter sends a correction."""
        self.editing = True
        self.add_class("-editing")
        self.border_title = "editing your last message · Enter corrects · Esc cancels"
        self.load_text(text)
        self.move_cursor(self.document.end)

    def end_edit(self) -> None:
        """Back to composing new messages (the text is cleared)."""
        self.editing = False
        self.remove_class("-editing")
        self.border_title = None
        self.clear()

    @property
    def wants_tab(self) -> bool:
        """Tab completes a command name being typed, or the path after `/file ` (`ui.focus`
        leaves every Tab to us, read after the keys before it; false: the focus moves on)."""
        if "\n" in self.text or not is_command(self.text):
            return False
        return " " not in self.text or self.text.startswith(FILE_COMMAND)

    def remember(self, text: str) -> None:
        """Put a sent text at the end of the input history and reset the walk."""
        if not self._history or self._history[-1] != text:
            self._history.append(text)
        self._position = len(self._history)
        self._draft = ""

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            if is_command(self.text.strip()):
                self.post_message(self.CommandEntered(self, self.text.strip()))
            elif self.editing and self.text.strip():
                self.post_message(self.Submitted(self, self.text, correction=True))
            elif self.replying is not None and self.text.strip():
                self.post_message(self.Submitted(self, self.text, reply_to=self.replying))
            elif self.text.strip():
                text = self.text[1:] if self.text.startswith("//") else self.text
                self.post_message(self.Submitted(self, text))
            return
        if event.key == "escape" and self.editing:
            event.stop()
            event.prevent_default()
            self.end_edit()
            return
        if event.key == "escape" and self.replying is not None:
            event.stop()
            event.prevent_default()
            self.end_reply()
            return
        if event.key == "tab" and self.wants_tab:
            event.stop()
            event.prevent_default()
            typed = self.text
            done = complete_path(typed) if typed.startswith(FILE_COMMAND) else complete(typed)
            self.load_text(done)
            self.move_cursor(self.document.end)
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        await super()._on_key(event)

    def action_cursor_up(self, select: bool = False) -> None:
        """In an empty composer, Up edits our last message; on the first line it shows the
        previous sent text; elsewhere it moves the cursor."""
        if not select and not self.text and not self.editing and self._last_own is not None:
            last = self._last_own()
            if last is not None:
                self.begin_edit(last)
                return
        if select or self.cursor_location[0] != 0 or not self._walk(-1):
            super().action_cursor_up(select)

    def action_cursor_down(self, select: bool = False) -> None:
        """On the last line, Down shows the next sent text (or the draft)."""
        last_row = self.document.line_count - 1
        if select or self.cursor_location[0] != last_row or not self._walk(1):
            super().action_cursor_down(select)

    def _walk(self, step: int) -> bool:
        """Show the previous/next history entry; False when there is none that way."""
        target = self._position + step
        if target < 0 or target > len(self._history) or not self._history:
            return False
        if self._position == len(self._history):
            self._draft = self.text
        self._position = target
        self.load_text(self._draft if target == len(self._history) else self._history[target])
        self.move_cursor(self.document.end)
        return True
