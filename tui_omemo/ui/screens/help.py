"""`HelpScreen`: the keys of the screen it was opened on (F1; or ? outside a text box, where
? is typed), and the marks' legend.

It lists every binding of that screen and of its tui-omemo widgets (the device table's, the
message log's), then the keys that work everywhere, then what the marks in front of messages
mean. Nothing here is typed twice: keys and descriptions come from the bindings themselves,
marks and meanings from the message log and the message detail dialog. Escape closes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingsMap, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from tui_omemo.service.api import MessageTrust
from tui_omemo.ui.commands import ACTIONS, PaletteAction
from tui_omemo.ui.dialogs.message_detail import MEANINGS
from tui_omemo.ui.slash import listing
from tui_omemo.ui.widgets.message_log import PENDING_MARK, TRUST_MARKS

SCREEN_WORDS: dict[str, str] = {
    "RosterScreen": "Roster: your contacts and rooms. Enter opens a chat; type to filter.",
    "ChatScreen": "Chat: write below, Enter sends; the messages above carry trust marks.",
    "GroupChatScreen": "Group chat: a room; the readiness panel says who can read OMEMO.",
    "TrustScreen": "Device trust: every device of yours and of your contacts.",
    "VerifyScreen": "Verify: show our QR code, or paste a contact's trust URI.",
    "SearchScreen": "Search: type words, Enter searches, Down moves into the results.",
    "SecurityScreen": "Security events: new devices, trust changes, failures; newest first.",
    "SettingsScreen": "Settings: OMEMO options, each with what it does.",
    "AccountEditScreen": "Account: this device, its label, password and server.",
}
"""One line on what each screen is for (by class name, so screens need not know of help)."""

HINT = "? opens it too, except in a text box. Escape closes it."
"""The help's last line: what else opens it, and how it closes."""

WIDGET_WORDS: dict[str, str] = {
    "MessageLog": "In the message list (Ctrl+L goes there, Ctrl+N back to writing)",
    "Composer": "In the message box",
}
"""Widgets whose keys act only while they have the focus get a section of their own, titled
where those keys act (by class name)."""


def key_rows(
    app: App[object], bindings: Iterable[Binding], more: Mapping[str, str]
) -> Iterator[tuple[str, str]]:
    """(key as shown, what it does) for each binding with a description, once per action;
    `more` adds the palette's line of help by action name."""
    seen: set[str] = set()
    for binding in bindings:
        if not binding.description or binding.action in seen:
            continue
        seen.add(binding.action)
        extra = more.get(binding.action.removeprefix("app."), "")
        words = f"{binding.description}: {extra}" if extra else binding.description
        yield app.get_key_display(binding), words


def palette_help(screen: Screen[object]) -> dict[str, str]:
    """The palette's line of help per action (the app's and the screen's own)."""
    own: tuple[PaletteAction, ...] = getattr(screen, "PALETTE", ())
    return {entry.action.removeprefix("app."): entry.help for entry in (*ACTIONS, *own)}


def _own_bindings(node: DOMNode) -> list[Binding]:
    """The bindings tui-omemo declares on `node`'s classes (Textual's own, such as Tab or a
    list's scrolling keys, are the usual ones and left out)."""
    found: list[Binding] = []
    for cls in reversed(type(node).__mro__):
        declared = cls.__dict__.get("BINDINGS")
        if declared and cls.__module__.startswith("tui_omemo"):
            found.extend(binding for _key, binding in BindingsMap(declared))
    return found


def screen_bindings(screen: Screen[object]) -> list[Binding]:
    """The screen's bindings and those of its widgets that have no section of their own
    (`WIDGET_WORDS`)."""
    found = _own_bindings(screen)
    for widget in screen.walk_children():
        if type(widget).__name__ not in WIDGET_WORDS:
            found.extend(_own_bindings(widget))
    return found


def widget_sections(
    app: App[object], screen: Screen[object], more: Mapping[str, str]
) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """(title, rows) for each widget of `screen` named in `WIDGET_WORDS`: its bindings, then
    the keys it handles itself (its `HELP_KEYS`)."""
    for widget in screen.walk_children():
        title = WIDGET_WORDS.get(type(widget).__name__)
        if title is not None:
            extra: tuple[tuple[str, str], ...] = getattr(widget, "HELP_KEYS", ())
            yield title, [*key_rows(app, _own_bindings(widget), more), *extra]


def _table(title: str, rows: Iterable[tuple[str, str]]) -> Group:
    """A bold title over two columns, the keys and (wrapped beneath itself) what they do."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True, style="bold cyan", min_width=6)
    grid.add_column()
    for key, words in rows:
        grid.add_row(key, words)
    return Group(Text(title, "bold"), grid, Text(""))


def marks_legend() -> Group:
    """The marks in front of messages, and the pending clock, in words."""
    rows = [(TRUST_MARKS[trust], MEANINGS[trust]) for trust in MessageTrust]
    rows.append((PENDING_MARK, "after the time: the server has not confirmed it yet"))
    rows.append(("delivered", "a device of the contact has it (a delivery receipt)"))
    rows.append(("read", "the contact had the chat on screen (a displayed marker)"))
    return _table("Message marks", rows)


class HelpScreen(ModalScreen[None]):
    """The keys of `screen` and of the app, and the marks' legend."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close", show=False),
        Binding("f1,question_mark", "dismiss", "Close", show=False),
    ]

    def __init__(self, screen: Screen[object]) -> None:
        super().__init__()
        self._for = screen

    def compose(self) -> ComposeResult:
        app = self.app
        name = type(self._for).__name__
        more = palette_help(self._for)
        own = list(key_rows(app, screen_bindings(self._for), more))
        sections = list(widget_sections(app, self._for, more))
        everywhere = [row for row in key_rows(app, _own_bindings(app), more) if row not in own]
        self.rows = [*own, *(row for _title, rows in sections for row in rows), *everywhere]
        """Every (key, words) shown, for whoever reads the screen without rendering it."""
        with Vertical(classes="dialog", id="help"):
            yield Static(f"Keys — {SCREEN_WORDS.get(name, name)}", classes="dialog-title")
            with VerticalScroll(id="help-body"):
                if own:
                    yield Static(_table("On this screen", own), id="help-screen-keys")
                for title, rows in sections:
                    yield Static(_table(title, rows), classes="help-widget-keys")
                yield Static(_table("Everywhere", everywhere), id="help-app-keys")
                if hasattr(self._for, "peer"):  # a chat: its composer takes commands
                    commands = _table("Commands (type them in the message box)", listing())
                    yield Static(commands, id="help-commands")
                yield Static(marks_legend(), id="help-marks")
                yield Static(
                    "Ctrl+P opens the command palette: every action, found by typing.",
                    classes="hint",
                )
            yield Static(HINT, classes="hint")
