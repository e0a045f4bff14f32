"""The app's sense of time, injected so that snapshots and tests are frozen.

`Clock` gives "now" and formats message times relative to it: today's messages show HH:MM,
older ones the date too. Tests pass `Clock.frozen(...)` with a fixed instant and UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo


@dataclass(frozen=True, slots=True)
class Clock:
    """A source of the current time plus the time zone times are shown in."""

    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    zone: tzinfo | None = None

    @classmethod
    def frozen(cls, instant: datetime) -> Clock:
        """A clock stopped at `instant`, showing times in `instant`'s zone (UTC for tests)."""
        return cls(now=lambda: instant, zone=instant.tzinfo or UTC)

    def local(self, moment: datetime) -> datetime:
        """`moment` in the display zone (the machine's own zone unless one was given)."""
        return moment.astimezone(self.zone)

    def short(self, moment: datetime) -> str:
        """HH:MM for today, "Mon 12 HH:MM" within a week, else the date and time."""
        shown, today = self.local(moment), self.local(self.now())
        if shown.date() == today.date():
            return shown.strftime("%H:%M")
        if abs((today - shown).days) < 7:
            return shown.strftime("%a %d %H:%M")
        return shown.strftime("%Y-%m-%d %H:%M")

    def day(self, moment: datetime) -> str:
        """HH:MM for today, else the date alone (narrow table columns)."""
        shown = self.local(moment)
        if shown.date() == self.local(self.now()).date():
            return shown.strftime("%H:%M")
        return shown.strftime("%Y-%m-%d")

    def full(self, moment: datetime) -> str:
        """Date and time to the second, for detail views."""
        return self.local(moment).strftime("%Y-%m-%d %H:%M:%S")
