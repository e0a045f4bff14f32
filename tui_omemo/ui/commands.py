"""The command palette (Ctrl+P): every app action, found by fuzzy search.

`ACTIONS` is the one list of what the app can do from anywhere; the palette's `ActionsProvider`
offers each entry, and a test checks that every `action_*` of the app is in it. A screen with
actions of its own (the trust manager's decisions, say) lists them in a `PALETTE` class
attribute; they are offered, first, while the palette was opened on that screen, and run there.
Each entry's help ends with the key that runs it, read from the bindings.
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
    PaletteAction("Help", "Keys of this screen and what the message marks mean", "app.help"),
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
    PaletteAction("Account", "This device and its label, password, server", "app.open_account"),
    PaletteAction("Back", "Close the current screen", "app.close_screen"),
    PaletteAction("Quit", "Leave tui-omemo", "app.quit"),
)


class ActionsProvider(Provider):
    """Offers the current screen's `PALETTE` entries, then every entry of `ACTIONS`."""

    def _entries(self) -> list[PaletteAction]:
        own: tuple[PaletteAction, ...] = getattr(self.screen, "PALETTE", ())
        return [*own, *ACTIONS]

    def _key(self, action: str) -> str:
        """The key that runs `action`, or "": the screen's binding of it first (the roster
        binds "app.join_room"), then for an "app." action the app's."""
        for _key, binding in self.screen._bindings:
            if binding.action == action:
                return self.app.get_key_display(binding)
        if action.startswith("app."):
            name = action.removeprefix("app.")
            for _key, binding in self.app._bindings:
                if binding.action.removeprefix("app.") == name:
                    return self.app.get_key_display(binding)
        return ""

    def _help(self, entry: PaletteAction) -> str:
        key = self._key(entry.action)
        return f"{entry.help}  ({key})" if key else entry.help

    async def discover(self) -> Hits:
        for entry in self._entries():
            yield DiscoveryHit(
                entry.title, partial(self._run, entry.action), help=self._help(entry)
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for entry in self._entries():
            score = matcher.match(f"{entry.title} {entry.help}")
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(entry.title),
                    partial(self._run, entry.action),
                    help=self._help(entry),
                )

    async def _run(self, action: str) -> None:
        """Run `action`: "app.…" on the app, anything else on the screen it came from."""
        if action.startswith("app."):
            await self.app.run_action(action)
        else:
            await self.screen.run_action(action)
