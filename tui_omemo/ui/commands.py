"""The command palette (Ctrl+P): every app action, found by fuzzy search.

`ACTIONS` is the one list of what the app can do from anywhere; the palette's `ActionsProvider`
offers each entry, and a test checks that every `action_*` of the app is in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


@dataclass(frozen=True, slots=True)
class PaletteAction:
    """One palette entry: what it is called, one line of help, the action it runs."""

    title: str
    help: str
    action: str


ACTIONS: tuple[PaletteAction, ...] = (
    PaletteAction("Roster", "Contacts and rooms", "app.open_roster"),
    PaletteAction("Add contact", "Add a JID to the roster", "app.add_contact"),
    PaletteAction("Join room", "Join a group chat", "app.join_room"),
    PaletteAction("Device trust manager", "Verify, trust or distrust devices", "app.open_trust"),
    PaletteAction(
        "Verify with QR code or URI", "Show our QR code, paste a contact's URI", "app.open_verify"
    ),
    PaletteAction("Search history", "Full-text search across all chats", "app.open_search"),
    PaletteAction("Security events", "New devices, trust changes, failures", "app.open_security"),
    PaletteAction("Settings", "OMEMO options with explanations", "app.open_settings"),
    PaletteAction("Back", "Close the current screen", "app.close_screen"),
    PaletteAction("Quit", "Leave tui-omemo", "app.quit"),
)


class ActionsProvider(Provider):
    """Offers every entry of `ACTIONS`."""

    async def discover(self) -> Hits:
        for entry in ACTIONS:
            yield DiscoveryHit(entry.title, partial(self._run, entry.action), help=entry.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for entry in ACTIONS:
            score = matcher.match(f"{entry.title} {entry.help}")
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(entry.title),
                    partial(self._run, entry.action),
                    help=entry.help,
                )

    async def _run(self, action: str) -> None:
        await self.app.run_action(action)
