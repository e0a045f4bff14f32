"""`SearchScreen`: full-text search across chats; Enter on a result opens the chat there.

Enter in the query box lists the hits and leaves the cursor in the box, so that typing on
refines the query; Down moves into the hits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui_omemo.service.api import ChatService, SearchHit
from tui_omemo.ui.clock import Clock
from tui_omemo.ui.screens.base import ServiceScreen
from tui_omemo.ui.text import neutral
from tui_omemo.ui.widgets.key_footer import KeyFooter


class SearchScreen(ServiceScreen):
    """A query box and the hits with their context."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "focus_hits", "To the results", show=False),
    ]

    @dataclass
    class HitChosen(Message):
        """The user chose the hit `archive_id` in the chat `jid`."""

        jid: str
        archive_id: int

    def __init__(self, service: ChatService, clock: Clock) -> None:
        super().__init__()
        self._service = service
        self._clock = clock
        self._hits: list[SearchHit] = []

    def compose(self) -> ComposeResult:
        yield Static("Search history", classes="title")
        yield Input(placeholder="Words to find in every chat, then Enter", id="query")
        yield Static("", id="count", markup=False)
        yield OptionList(id="hits")
        yield KeyFooter()

    @on(Input.Submitted, "#query")
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self._search(event.value.strip())

    @work(exit_on_error=False, group="search", exclusive=True, description="search history")
    async def _search(self, query: str) -> None:
        self.show_hits(query, await self._service.search(query))

    def show_hits(self, query: str, hits: Sequence[SearchHit]) -> None:
        """List `hits`, the words of `query` highlighted in each snippet."""
        self._hits = list(hits)
        self.query_one("#count", Static).update(f"{len(hits)} result(s)")
        results = self.query_one("#hits", OptionList)
        results.set_options(Option(self._row(query, hit), id=str(i)) for i, hit in enumerate(hits))
        if hits:
            results.highlighted = 0

    def action_focus_hits(self) -> None:
        """From the query box into the hits (the first one highlighted)."""
        results = self.query_one("#hits", OptionList)
        if results.option_count:
            results.focus()

    def _row(self, query: str, hit: SearchHit) -> Text:
        message = hit.message
        row = Text(no_wrap=True, overflow="ellipsis")
        row.append(f"{self._clock.short(message.time)}  ", "dim")
        row.append(neutral(message.peer, single_line=True), "bold")
        row.append("  ")
        who = "me" if message.outgoing else (message.nick or message.sender)
        row.append(f"{neutral(who, single_line=True)}: ")
        snippet = Text(neutral(hit.snippet, single_line=True))
        snippet.highlight_words(query.split(), "reverse", case_sensitive=False)
        row.append_text(snippet)
        return row

    @on(OptionList.OptionSelected, "#hits")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        hit = self._hits[int(event.option.id or 0)]
        self.post_message(self.HitChosen(hit.message.peer, hit.message.archive_id))
