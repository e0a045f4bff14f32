"""`DeviceTable`: every device, grouped by account — our own first, then one header per contact.

A header names the account (bare JID, its devices counted by trust state); beneath it one
two-line row per device: id, label, the fingerprint in 8 groups of 8 (four per line, each group
its own colour), trust state (in words), active or inactive, last seen and OMEMO versions.
Narrower than `WIDE_MIN`, a row is a two-line card instead: the facts on the first line, the
whole fingerprint on the second, so that nothing is cut at 80 columns.

The cursor moves over devices only, never onto a header: up/down, page up/down, home/end, and
`[` / `]` to the previous / next account; a click highlights a row. The parent hands down
`DeviceInfo` values (`await set_devices(...)`), reads `current` and `ordered`, and moves the
cursor with `move_cursor(row=i)`, `i` indexing `ordered`.

Rows are widgets (not Textual's DataTable) because a header must span the whole width and must
never be where the cursor lands; people have tens of devices, not thousands, so this is cheap.
Colours live in tcss: component classes for fingerprint groups, trust states and the JID, and
state classes (`-cursor`, `-inactive`, `-own`) on rows and headers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from itertools import groupby
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from tui_omemo.model import TrustLevel
from tui_omemo.service.api import DeviceInfo
from tui_omemo.ui.clock import Clock
from tui_omemo.ui.text import neutral
from tui_omemo.ui.widgets.fingerprint import GROUP_CLASSES, fingerprint_text

TRUST_WORDS: dict[TrustLevel, str] = {
    TrustLevel.VERIFIED: "verified",
    TrustLevel.BLINDLY_TRUSTED: "blind",
    TrustLevel.UNDECIDED: "undecided",
    TrustLevel.DISTRUSTED: "distrusted",
}

COLUMNS: tuple[tuple[str, int], ...] = (
    ("Device", 11),
    ("Label", 13),
    ("Fingerprint", 36),
    ("Trust", 11),
    ("State", 9),
    ("Last seen", 11),
    ("OMEMO", 8),
)
"""Column titles and widths (cells); a row's two lines follow them."""

CARD_COLUMNS: tuple[tuple[str, int], ...] = (
    ("Device", 11),
    ("Label", 13),
    ("Trust", 11),
    ("State", 9),
    ("Last seen", 11),
    ("OMEMO", 8),
)
"""Below `WIDE_MIN` cells a row is a two-line card: these facts, then the whole fingerprint."""

WIDE_MIN = sum(width for _, width in COLUMNS) + 4
"""The table's width (cells, with its padding and scrollbar) from which rows are columns."""


def device_order(device: DeviceInfo) -> tuple[bool, str, bool, int]:
    """Own devices first (this one at the top), then contacts by JID, devices by id."""
    return (not device.own, device.bare_jid, not device.this_device, device.device_id)


def trust_counts(devices: Sequence[DeviceInfo]) -> list[tuple[TrustLevel, int]]:
    """How many of `devices` are in each trust state (states without a device left out)."""
    counts = Counter(device.trust for device in devices)
    return [(level, counts[level]) for level in TRUST_WORDS if counts[level]]


def _cell(content: Text | str, width: int) -> Text:
    """`content` cut with an ellipsis and padded to `width` cells (one cell of gap kept)."""
    text = Text(content) if isinstance(content, str) else content.copy()
    text.truncate(width - 1, overflow="ellipsis")
    text.pad_right(width - text.cell_len)
    return text


def _line(cells: Sequence[Text | str], columns: Sequence[tuple[str, int]] = COLUMNS) -> Text:
    return Text("").join(
        _cell(cell, width) for cell, (_, width) in zip(cells, columns, strict=True)
    )


class DeviceRow(Static):
    """One device's two lines; the table builds the text and toggles `-cursor`."""

    def __init__(self, device: DeviceInfo, text: Text) -> None:
        classes = "device-row -inactive" if not device.active else "device-row"
        super().__init__(text, classes=classes)
        self.device = device


class DeviceTable(VerticalScroll, can_focus=True):
    """The trust manager's devices; see the module docstring."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(0)", "First", show=False),
        Binding("end", "edge(-1)", "Last", show=False),
        Binding("left_square_bracket", "account(-1)", "Previous contact", show=False),
        Binding("right_square_bracket", "account(1)", "Next contact", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *GROUP_CLASSES,
        "device-table--jid",
        "device-table--own",
        *(f"device-table--{level.value}" for level in TrustLevel),
    }

    def __init__(self, clock: Clock, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._clock = clock
        self._devices: list[DeviceInfo] = []
        self._rows: list[DeviceRow] = []
        self._cursor = 0
        self._cards = False

    # --- what the parent reads and sets ---------------------------------------------------

    @property
    def current(self) -> DeviceInfo | None:
        """The highlighted device."""
        return self._devices[self._cursor] if self._devices else None

    @property
    def cursor_row(self) -> int:
        """The index in `ordered` of the highlighted device."""
        return self._cursor

    @property
    def ordered(self) -> Sequence[DeviceInfo]:
        """The devices in the order shown."""
        return self._devices

    def move_cursor(self, *, row: int) -> None:
        """Highlight `ordered[row]` (clamped to the devices there are) and scroll to it."""
        self._cursor = max(0, min(row, len(self._devices) - 1))
        for index, device_row in enumerate(self._rows):
            device_row.set_class(index == self._cursor, "-cursor")
        if self._rows:
            self.call_after_refresh(self._scroll_to_cursor)

    async def set_devices(self, devices: Sequence[DeviceInfo]) -> None:
        """Show `devices` grouped by account; the highlighted device stays highlighted."""
        kept = self.current
        self._devices = sorted(devices, key=device_order)
        self._cards = self._narrow()
        self._rows = [DeviceRow(device, self._device_text(device)) for device in self._devices]
        widgets: list[Widget] = [Static(self._column_titles(), id="columns")]
        rows = iter(self._rows)
        for jid, group in groupby(self._devices, key=lambda d: d.bare_jid):
            members = list(group)
            widgets.append(self._header(jid, members))
            widgets.extend(next(rows) for _ in members)
        with self.app.batch_update():
            await self.remove_children()
            await self.mount_all(widgets)
        self.move_cursor(row=self._index_of(kept))

    def _narrow(self) -> bool:
        return (self.size.width or self.app.size.width) < WIDE_MIN

    def _column_titles(self) -> Text:
        if self._cards:
            return _line([title for title, _ in CARD_COLUMNS], CARD_COLUMNS)
        return _line([title for title, _ in COLUMNS])

    def on_resize(self) -> None:
        """Columns when wide enough, else two-line cards (fingerprints are never cut)."""
        if self._rows and self._narrow() != self._cards:
            self._cards = not self._cards
            self.query_one("#columns", Static).update(self._column_titles())
            for row in self._rows:
                row.update(self._device_text(row.device))

    def _index_of(self, device: DeviceInfo | None) -> int:
        if device is None:
            return 0
        key = (device.bare_jid, device.device_id)
        found = (i for i, d in enumerate(self._devices) if (d.bare_jid, d.device_id) == key)
        return next(found, self._cursor)

    # --- keys and mouse ---------------------------------------------------------------------

    def action_cursor(self, step: int) -> None:
        """One device up or down."""
        self.move_cursor(row=self._cursor + step)

    def action_page(self, direction: int) -> None:
        """About a screenful of devices up or down."""
        self.move_cursor(row=self._cursor + direction * max(1, self.size.height // 2 - 1))

    def action_edge(self, end: int) -> None:
        """The first (0) or the last (-1) device."""
        self.move_cursor(row=len(self._devices) - 1 if end else 0)

    def action_account(self, direction: int) -> None:
        """The first device of the next (1) or previous (-1) account."""
        starts = [
            i
            for i, d in enumerate(self._devices)
            if i == 0 or d.bare_jid != self._devices[i - 1].bare_jid
        ]
        if direction > 0:
            target = next((i for i in starts if i > self._cursor), self._cursor)
        else:
            target = next((i for i in reversed(starts) if i < self._cursor), 0)
        self.move_cursor(row=target)

    @on(events.Click)
    def _clicked(self, event: events.Click) -> None:
        row = event.widget
        while row is not None and not isinstance(row, DeviceRow) and row is not self:
            row = row.parent if isinstance(row.parent, Widget) else None
        if isinstance(row, DeviceRow):
            self.move_cursor(row=self._rows.index(row))

    def _scroll_to_cursor(self) -> None:
        if self._rows and self._rows[self._cursor].is_mounted:
            self.scroll_to_widget(self._rows[self._cursor], animate=False)

    # --- text -----------------------------------------------------------------------------------

    def _style(self, name: str) -> Style:
        """A component class's colour and text style, without its background (rows and
        headers keep their own, and the cursor's)."""
        return self.get_component_rich_style(name, partial=True)

    def _header(self, jid: str, devices: Sequence[DeviceInfo]) -> Static:
        style = self._style
        own = devices[0].own
        text = Text(neutral(jid, single_line=True), style("device-table--jid"), no_wrap=True)
        text.append("  (you)" if own else "")
        text.append(f"  {len(devices)} device{'s' if len(devices) != 1 else ''}: ")
        counts = trust_counts(devices)
        for index, (level, count) in enumerate(counts):
            text.append(", " if index else "")
            text.append(f"{count} {TRUST_WORDS[level]}", style(f"device-table--{level.value}"))
        return Static(text, classes="device-header -own" if own else "device-header")

    def _device_text(self, device: DeviceInfo) -> Text:
        style = self._style
        prints = self._fingerprint_lines(device.fingerprint, [style(c) for c in GROUP_CLASSES])
        label = neutral(device.label or "", single_line=True)
        marker = Text("this device" if device.this_device else "", style("device-table--own"))
        trust = Text(TRUST_WORDS[device.trust], style(f"device-table--{device.trust.value}"))
        first: list[Text | str] = [
            str(device.device_id),
            label,
            prints[0],
            trust,
            "active" if device.active else "inactive",
            self._seen(device.last_seen),
            " · ".join(ns.label for ns in device.namespaces),
        ]
        if self._cards:
            facts = Text("").join([_line([*first[:2], *first[3:]], CARD_COLUMNS), marker])
            whole = Text("  ").join([Text(""), prints[0], prints[1]])
            return Text("\n").join([facts, whole])
        second: list[Text | str] = ["", marker, prints[1], "", "", "", ""]
        return Text("\n").join([_line(first), _line(second)])

    @staticmethod
    def _fingerprint_lines(fingerprint: str, styles: Sequence[Style]) -> list[Text]:
        if not fingerprint:
            return [Text("identity key not known yet"), Text("")]
        lines = fingerprint_text(fingerprint, styles, per_line=4).split("\n")
        return [*lines, Text("")][:2]

    def _seen(self, moment: datetime | None) -> str:
        return "never" if moment is None else self._clock.day(moment)
