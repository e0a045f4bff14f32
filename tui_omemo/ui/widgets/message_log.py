"""`MessageLog`: a virtual chat log on Textual's line API.

Why this shape: a chat may hold 100,000 archived messages, and one widget per message would make
opening it cost as much as the archive is long. `MessageLog` is one `ScrollView` that keeps only
the pages the user has scrolled through (`set_history`, `prepend`, `append`) and paints a line at
a time in `render_line`. Wrapping is done per message and cached per width, painted lines sit in an
LRU cache, so the cost of opening a chat is the cost of its first page.

It never loads anything itself: near the top it posts `OlderWanted(before)` and its screen answers
with `prepend(page)`. Enter (or a click) on a message posts `MessageChosen`.
"""

from __future__ import annotations

import io
from bisect import bisect_right
from dataclasses import dataclass, replace
from itertools import accumulate
from typing import ClassVar

from rich.console import Console
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui_omemo.service.api import ChatMessage, Delivery, HistoryPage, MessageTrust
from tui_omemo.ui.clock import Clock
from tui_omemo.ui.text import neutral

TRUST_MARKS: dict[MessageTrust, str] = {
    MessageTrust.VERIFIED: "✓",
    MessageTrust.BLIND: "○",
    MessageTrust.UNTRUSTED: "!",
    MessageTrust.UNENCRYPTED: "⊘",
    MessageTrust.FAILED: "✗",
}
"""The one-cell mark in front of each message; the detail dialog explains it in words."""

PENDING_MARK = "◷"
"""After the time of our messages the server has not confirmed yet (they wait in the outbox)."""
EDITED_MARK = "(edited)"
"""After the text of a corrected message (XEP-0308; the detail lists the earlier texts)."""
DELIVERY_MARKS = {
    Delivery.PENDING: PENDING_MARK,
    Delivery.RECEIVED: "delivered",
    Delivery.READ: "read",
}
"""Our messages' marks after the time (issue 17): the clock while pending, none once the
server has it, "delivered" when a device of the contact has it (a receipt), "read" once
displayed (a marker). Words, not checks: ✓ is the trust mark of a verified device."""
_RANK = {Delivery.PENDING: 0, Delivery.SENT: 1, Delivery.RECEIVED: 2, Delivery.READ: 3}

WRAP_CACHE = 2048
"""Messages whose wrapped lines are kept; only their heights are kept for all of them."""

FLUSH_DELAY = 1 / 60
"""Seconds new messages are gathered before they are laid out together (one frame)."""

RECENT = 200
"""How many of the newest messages an appended one is checked against for duplicates."""

QUOTE_CHARS = 40
"""How much of the answered message a reply's line above it shows."""

OLDER_THRESHOLD = 3
"""Lines from the top at which the next older page is asked for."""


class MessageLog(ScrollView, can_focus=True):
    """The messages of one chat, oldest at the top, painted line by line."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "message-log--time",
        "message-log--sender",
        "message-log--own",
        "message-log--cursor",
        "message-log--failure",
        "message-log--empty",
        *(f"message-log--{trust.value}" for trust in MessageTrust),
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Previous message", show=False),
        Binding("down", "cursor(1)", "Next message", show=False),
        Binding("enter", "choose", "Message details"),
        Binding("end", "follow", "Newest", show=False),
        Binding("d", "download", "Download file", show=False),  # the file line says "d"
        Binding("r", "reply", "Reply", show=False),
    ]

    @dataclass
    class MessageChosen(Message):
        """The user asked for the details of `message`."""

        message: ChatMessage

    @dataclass
    class ReplyWanted(Message):
        """The user asked to answer `message` (XEP-0461 reply)."""

        message: ChatMessage

    @dataclass
    class FileWanted(Message):
        """The user asked to download the file `message` offers (issue 18)."""

        message: ChatMessage

    @dataclass
    class OlderWanted(Message):
        """The user scrolled to the top: the page older than `before` is wanted."""

        before: int

    cursor: reactive[int | None] = reactive(None)
    """Index of the highlighted message; None follows the newest one."""

    def __init__(self, clock: Clock, *, group: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self._clock = clock
        self._group = group
        self._peer_name = ""
        self._messages: list[ChatMessage] = []
        self._before: int | None = None
        self._waiting = False
        self._end_pending = False
        self._pending: list[ChatMessage] = []
        self._styles: dict[str, Style] = {}
        self._styles_stale = False
        self._base: Style | None = None
        self._following = True
        self._at_end = True
        """Whether the newest line was in view after the last scroll (kept across a resize,
        which changes the size before `on_resize` could look)."""
        self._heights: list[int] = []
        self._first_row: list[int] = []
        self._total_rows = 0
        self._width = 0
        self._wrapped: LRUCache[int, list[Text]] = LRUCache(WRAP_CACHE)
        self._strips: LRUCache[tuple[int, int, bool], Strip] = LRUCache(1024)
        self._notes: dict[int, str] = {}
        """Per archive id: a file transfer's progress or outcome, shown after the file."""

    # --- what the screen calls -------------------------------------------------------------

    @property
    def messages(self) -> list[ChatMessage]:
        """The loaded messages, oldest first (read-only use)."""
        return self._messages

    def set_peer_name(self, name: str) -> None:
        """The name shown as sender of incoming 1:1 messages."""
        self._peer_name = neutral(name, single_line=True)
        self._invalidate()

    def set_history(self, page: HistoryPage) -> None:
        """Show the newest page of a chat (replaces what was shown)."""
        self._messages = list(page.messages)
        self._before = page.before
        self._waiting = False
        self.cursor = None
        self._invalidate()
        self._to_end()

    def prepend(self, page: HistoryPage) -> None:
        """Add an older page above what is shown, keeping the view where it was."""
        shown = {m.archive_id for m in self._messages}  # ids do not sort by position
        fresh = [m for m in page.messages if m.archive_id not in shown]
        self._before = page.before
        self._waiting = False
        if not fresh:
            return
        old_rows = self._total_rows
        self._messages[:0] = fresh
        if self.cursor is not None:
            self.cursor += len(fresh)
        if self._width:
            self._heights[:0] = [len(self._lines(m)) for m in fresh]
        self._layout()
        added = self._total_rows - old_rows
        self.scroll_to(y=self.scroll_y + added, animate=False, immediate=True)

    def append(self, message: ChatMessage) -> None:
        """Add a new message at the bottom (ignored when already shown).

        A burst of messages is gathered and laid out once, on the next idle moment, so that a
        thousand arrivals cost a few repaints rather than a thousand.
        """
        if message.corrects is not None:
            self._correct(message)
            return
        recent = self._messages[-RECENT:] + self._pending
        if any(m.archive_id == message.archive_id for m in recent):
            self._learn_id(message)
            return
        if not self._pending:
            self._following = self.cursor is None and (self._end_pending or self._at_end)
            self.set_timer(FLUSH_DELAY, self._flush)
        self._pending.append(message)

    def _learn_id(self, message: ChatMessage) -> None:
        """A shown message again, with the id a room stamped on it later (what replies there
        name): the shown one keeps it, and replies naming it say what they answer."""
        new_id = message.message_id
        changed = False
        for shown in (self._messages, self._pending):
            for index, old in enumerate(shown):
                if old.archive_id == message.archive_id and new_id and old.message_id != new_id:
                    shown[index] = replace(old, message_id=new_id)
                    changed = True
        answers = [i for i, m in enumerate(self._messages) if changed and m.reply_to == new_id]
        for index in answers:
            self._wrapped.discard(self._messages[index].archive_id)
            if self._width:
                self._heights[index] = len(self._lines(self._messages[index]))
        if answers:
            self._layout()

    def mark_delivered(self, archive_id: int, delivery: Delivery = Delivery.SENT) -> None:
        """One of our messages got further (the server has it: its clock mark goes; a
        receipt or marker: ✓✓, read); never back."""
        for index in range(len(self._messages) - 1, -1, -1):
            message = self._messages[index]
            if message.archive_id == archive_id:
                if _RANK[message.delivery] >= _RANK[delivery]:
                    return
                self._messages[index] = replace(message, delivery=delivery)
                self._wrapped.discard(archive_id)
                if self._width:
                    self._heights[index] = len(self._lines(self._messages[index]))
                self._layout()
                return
        self._pending = [
            replace(m, delivery=delivery)
            if m.archive_id == archive_id and _RANK[m.delivery] < _RANK[delivery]
            else m
            for m in self._pending
        ]

    def _correct(self, correction: ChatMessage) -> None:
        """A correction (XEP-0308): the message it corrects shows its text, marked edited
        (not loaded: nothing to do, its page will show it corrected)."""
        for index, message in enumerate(self._messages):
            if message.archive_id == correction.corrects:
                fixed = replace(message, body=correction.body, file=correction.file, edited=True)
                self._messages[index] = fixed
                self._wrapped.discard(message.archive_id)
                if self._width:
                    self._heights[index] = len(self._lines(fixed))
                self._layout()
                return
        self._pending = [
            replace(m, body=correction.body, file=correction.file, edited=True)
            if m.archive_id == correction.corrects
            else m
            for m in self._pending
        ]

    def set_note(self, archive_id: int, note: str) -> None:
        """Show `note` (a download's bar, then where it was saved) after a file message."""
        self._notes[archive_id] = note
        for index, message in enumerate(self._messages):
            if message.archive_id == archive_id:
                self._wrapped.discard(archive_id)
                if self._width:
                    self._heights[index] = len(self._lines(message))
                self._layout()
                return

    def _flush(self) -> None:
        """Lay out the gathered new messages in one go."""
        fresh, self._pending = self._pending, []
        self._messages.extend(fresh)
        if self._width:
            for message in fresh:
                self._first_row.append(self._total_rows)
                self._heights.append(len(self._lines(message)))
                self._total_rows += self._heights[-1]
            self.virtual_size = Size(self._width, self._total_rows)
            self.refresh()
        if self._following:
            self._to_end()
        else:
            self._at_end = self.scroll_y >= self.max_scroll_y - 1

    def _to_end(self) -> None:
        """Scroll to the newest line, now and again once the layout has caught up."""
        self._scroll_end_now()
        if not self._end_pending:
            self._end_pending = True
            self.call_after_refresh(self._scroll_end_now)

    def _scroll_end_now(self) -> None:
        self._end_pending = False
        self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        self._at_end = True

    # --- layout ---------------------------------------------------------------------------

    def _invalidate(self) -> None:
        """Wrap every loaded message again (new chat, new width, new styles)."""
        self._wrapped.clear()
        self._heights = [len(self._lines(m)) for m in self._messages] if self._width else []
        self._layout()

    def _layout(self) -> None:
        """Recompute where each message starts from the known heights."""
        self._strips.clear()
        self._first_row = [0, *accumulate(self._heights)]
        self._total_rows = self._first_row.pop() if self._first_row else 0
        if self._width:
            self.virtual_size = Size(self._width, self._total_rows)
        self.refresh()

    def _locate(self, row: int) -> tuple[int, int]:
        """(message index, line within it) of a virtual row."""
        index = bisect_right(self._first_row, row) - 1
        return index, row - self._first_row[index]

    def on_resize(self, event: events.Resize) -> None:
        at_end = self._end_pending or self._at_end
        width = self.scrollable_content_region.width
        if width != self._width:
            self._width = width
            self._invalidate()
        if at_end:
            self._to_end()

    def notify_style_update(self) -> None:
        """Styles may have changed: checked before the next line is painted (when the
        component styles are up to date), so that a restyle that changes nothing, such as
        the ones while a chat opens, keeps the wrapped lines and painted strips."""
        super().notify_style_update()
        self._styles_stale = True

    def _check_styles(self) -> None:
        """Drop the wrapped lines if a component style changed, the strips if any style did."""
        self._styles_stale = False
        fresh = {name: self.get_component_rich_style(name) for name in self._styles}
        base = self.rich_style
        if fresh != self._styles:
            self._styles = fresh
            self._wrapped.clear()
            self._strips.clear()
        elif base != self._base:
            self._strips.clear()
        self._base = base

    def _style(self, name: str) -> Style:
        """A component class's style, looked up once per style change."""
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(name)
        return style

    def _lines(self, message: ChatMessage) -> list[Text]:
        lines = self._wrapped.get(message.archive_id)
        if lines is None:
            lines = self._wrap(message)
            self._wrapped[message.archive_id] = lines
        return lines

    def _wrap(self, message: ChatMessage) -> list[Text]:
        """The message as lines of at most the log's width, continuation lines indented."""
        time = self._clock.short(message.time)
        indent = len(time) + 3
        text = Text(no_wrap=False, end="")
        text.append(time, self._style("message-log--time"))
        text.append(" ")
        mark = DELIVERY_MARKS.get(message.delivery) if message.outgoing else None
        if mark is not None:
            text.append(mark + " ", self._style("message-log--time"))
        mark_style = self._style(f"message-log--{message.trust.value}")
        text.append(TRUST_MARKS[message.trust], mark_style)
        text.append(" ")
        sender_class = "message-log--own" if message.outgoing else "message-log--sender"
        text.append(self._sender(message), self._style(sender_class))
        text.append(": ")
        if message.trust is MessageTrust.FAILED and not message.body:
            failure = "could not be decrypted — press Enter for the reason and a fix"
            text.append(failure, self._style("message-log--failure"))
        elif message.file is not None:
            self._file_line(text, message)
        else:
            text.append(neutral(message.body))
        if message.edited:
            text.append(f" {EDITED_MARK}", self._style("message-log--time"))
        width = max(10, self._width - indent)
        if text.cell_len <= width and "\n" not in text.plain and "\t" not in text.plain:
            if message.reply_to is None:
                return [text]  # one line as it is: what wrapping would return, at a fraction
            return [self._reply_line(message), text]
        lines = list(text.wrap(_CONSOLE, width))
        lines = [lines[0], *(Text(" " * indent, end="") + line for line in lines[1:])]
        return lines if message.reply_to is None else [self._reply_line(message), *lines]

    def _file_line(self, text: Text, message: ChatMessage) -> None:
        """A file message: its name and type (never the link: it holds the key), then the
        transfer's note or the key that downloads it."""
        assert message.file is not None
        text.append(f"📎 {neutral(message.file.name, single_line=True)}")
        text.append(f" ({message.file.type})", self._style("message-log--time"))
        note = self._notes.get(message.archive_id, "d: download")
        text.append(f" — {note}", self._style("message-log--time"))

    def _sender(self, message: ChatMessage) -> str:
        if message.outgoing:
            return "me"
        if self._group:
            return neutral(message.nick or message.sender, single_line=True)
        return self._peer_name or neutral(message.sender.split("@")[0], single_line=True)

    # --- painting -------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        if self._styles_stale:
            self._check_styles()
        row = y + round(self.scroll_y)
        width = self.scrollable_content_region.width
        if not self._messages and y == 0:
            empty = Text("No messages yet.", self._style("message-log--empty"))
            return Strip(empty.render(_CONSOLE)).adjust_cell_length(width, self.rich_style)
        if row >= self._total_rows:
            return Strip.blank(width, self.rich_style)
        index, line = self._locate(row)
        chosen = index == self.cursor
        key = (self._messages[index].archive_id, line, chosen)
        strip = self._strips.get(key)
        if strip is None:
            text = self._lines(self._messages[index])[line]
            base = self.rich_style
            if chosen:
                base += self._style("message-log--cursor")
            strip = Strip(text.render(_CONSOLE)).apply_style(base)
            strip = strip.adjust_cell_length(width, base)
            self._strips[key] = strip
        return strip

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._at_end = new_value >= self.max_scroll_y - 1
        if new_value <= OLDER_THRESHOLD and self._before is not None and not self._waiting:
            self._waiting = True
            self.post_message(self.OlderWanted(self._before))

    def watch_cursor(self, old: int | None, new: int | None) -> None:
        self._strips.clear()
        if new is not None and self._first_row:
            top = self._first_row[new]
            height = self._heights[new]
            if top < self.scroll_y:
                self.scroll_to(y=top, animate=False, immediate=True)
            elif top + height > self.scroll_y + self.scrollable_content_region.height:
                bottom = top + height - self.scrollable_content_region.height
                self.scroll_to(y=bottom, animate=False, immediate=True)
        self.refresh()

    # --- keys and mouse -------------------------------------------------------------------

    def action_cursor(self, step: int) -> None:
        """Move the highlight one message up or down (past the newest: follow again)."""
        if not self._messages:
            return
        if self.cursor is None:
            self.cursor = len(self._messages) - 1 if step < 0 else None
            return
        moved = self.cursor + step
        self.cursor = None if moved >= len(self._messages) else max(0, moved)
        if self.cursor is None:
            self._to_end()

    def action_follow(self) -> None:
        """Jump to the newest message and follow new ones."""
        self.cursor = None
        self._to_end()

    def action_choose(self) -> None:
        """Post `MessageChosen` for the highlighted (else the newest) message."""
        if self._messages:
            index = len(self._messages) - 1 if self.cursor is None else self.cursor
            self.post_message(self.MessageChosen(self._messages[index]))

    def action_reply(self) -> None:
        """Post `ReplyWanted` for the highlighted (else the newest) message."""
        if self._messages:
            index = len(self._messages) - 1 if self.cursor is None else self.cursor
            self.post_message(self.ReplyWanted(self._messages[index]))

    def quote(self, message: ChatMessage) -> str:
        """`NAME: first words` of a message (plain text, one line), as a reply names it."""
        words = neutral(message.body, single_line=True)
        if len(words) > QUOTE_CHARS:
            words = words[: QUOTE_CHARS - 1] + "…"
        return f"{self._sender(message)}: {words}"

    def _reply_line(self, message: ChatMessage) -> Text:
        """The `↪ reply to NAME: first words` line above a reply."""
        shown = next(
            (m for m in reversed(self._messages) if m.message_id == message.reply_to), None
        )
        what = "an earlier message" if shown is None else self.quote(shown)
        return Text(f"  ↪ reply to {what}", self._style("message-log--time"), end="", no_wrap=True)

    def action_download(self) -> None:
        """Post `FileWanted` for the highlighted (else the newest) message offering a file."""
        if self._messages:
            index = len(self._messages) - 1 if self.cursor is None else self.cursor
            if self._messages[index].file is not None:
                self.post_message(self.FileWanted(self._messages[index]))

    def on_click(self, event: events.Click) -> None:
        row = event.y + round(self.scroll_y)
        if 0 <= row < self._total_rows:
            self.cursor = self._locate(row)[0]
            self.action_choose()

    def select_archive_id(self, archive_id: int) -> bool:
        """Highlight the message with `archive_id` if it is loaded; True when found."""
        for index, message in enumerate(self._messages):
            if message.archive_id == archive_id:
                self.cursor = index
                return True
        return False


_CONSOLE = Console(width=1000, color_system="truecolor", file=io.StringIO())
"""Used only to wrap and render text into segments; it never prints anything."""
