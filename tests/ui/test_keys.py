"""Pilot tests of keys you can find: F1 and ? open the help of the current screen (every
binding, the marks' legend), the palette shows each action's key and finds "help", the footer
wraps instead of cutting keys, Escape closes the keys panel, F5 returns to the roster."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from textual.widgets import Input, Static
from textual.widgets._footer import FooterKey

from tests.fakes_ui import BOB, FakeService
from tests.ui.helpers import make_app, settle
from tui_omemo.ui.commands import ActionsProvider
from tui_omemo.ui.screens.help import HelpScreen
from tui_omemo.ui.screens.roster import RosterScreen
from tui_omemo.ui.screens.trust import TrustScreen
from tui_omemo.ui.screens.verify import VerifyScreen
from tui_omemo.ui.widgets.composer import Composer
from tui_omemo.ui.widgets.roster_list import RosterList

SMALL = (80, 24)


async def test_f1_opens_the_roster_help_with_its_keys_and_the_marks(service: FakeService) -> None:
    """F1 on the roster lists the roster's keys, the keys that work everywhere and every
    message mark with its meaning; Escape goes back to the roster."""
    app = make_app(service)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        keys = dict(app.screen.rows)
        assert keys["^n"] == "Add contact: Add a JID to the roster"
        assert keys["F2"].startswith("Settings")
        assert keys["F3"].startswith("Events")
        assert keys["^o"].startswith("Our QR")
        assert keys["F5"].startswith("Roster")
        app.screen.query_one("#help-marks").scroll_visible(animate=False)
        await settle(pilot)
        shot = app.export_screenshot().replace("&#160;", " ")
        for mark in ("✓", "○", "!", "◷"):
            assert mark in shot
        assert "encrypted by a device you verified" in shot
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, RosterScreen)


async def test_question_mark_opens_the_trust_managers_help_but_types_in_a_field(
    service: FakeService,
) -> None:
    """? on the trust manager lists v, d, B, x with what they do; in the roster's filter
    field ? is typed, not taken as a key."""
    app = make_app(service)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        keys = dict(app.screen.rows)
        assert keys["v"] == "Verify: Mark the highlighted device verified"
        assert keys["d"].startswith("Distrust")
        assert "x" in keys
        await pilot.press("escape", "escape")
        await settle(pilot)
        assert isinstance(app.screen, RosterScreen)
        app.screen.query_one(Input).focus()
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, RosterScreen)
        assert app.screen.query_one(Input).value == "?"


async def test_the_palette_finds_help_and_shows_each_actions_key(service: FakeService) -> None:
    """Searching "help" offers the Help entry with its key F1; the trust manager's entry
    shows ^t, and on the trust manager its Verify entry shows v."""
    app = make_app(service)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        provider = ActionsProvider(app.screen)
        hits = [hit async for hit in provider.search("help")]
        assert hits
        assert hits[0].help is not None
        assert hits[0].help.endswith("(F1)")
        found = {str(hit.text): hit.help async for hit in provider.discover()}
        assert found["Device trust manager"].endswith("(^t)")  # type: ignore[union-attr]
        await pilot.press("ctrl+t")
        await settle(pilot)
        on_trust = {str(hit.text): hit.help async for hit in ActionsProvider(app.screen).discover()}
        assert on_trust["Verify device"].endswith("(v)")  # type: ignore[union-attr]


async def test_the_palette_shows_the_roster_keys_of_app_actions(service: FakeService) -> None:
    """On the roster, "Join room" and "Add contact" show the roster's keys (^g, ^n) that run
    those app actions, as the app's own bindings show theirs."""
    app = make_app(service)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        found = {str(hit.text): hit.help async for hit in ActionsProvider(app.screen).discover()}
        assert found["Join room"] == "Join a group chat  (^g)"
        assert found["Add contact"] == "Add a JID to the roster  (^n)"


async def test_the_footer_wraps_instead_of_cutting_keys(service: FakeService) -> None:
    """At 80×24 the trust manager's footer shows every key's whole description (Rebuild,
    Settings, Events, Our QR), on more than one line."""
    app = make_app(service)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        footer = app.screen.query_one("KeyFooter")
        assert footer.size.height >= 2
        keys = list(footer.query(FooterKey))
        shown = {key.description for key in keys}
        assert {"Rebuild", "Settings", "Events", "Our QR", "Stale"} <= shown
        for key in keys:
            assert key.region.right <= SMALL[0]
            assert key.size.width >= len(key.key_display) + 1 + len(key.description)


async def test_escape_closes_the_keys_panel_and_f5_returns_to_the_roster(
    service: FakeService,
) -> None:
    """With Textual's keys panel open, Escape closes it and nothing else; from a chat, the
    trust manager and the verify screen above it, one F5 is back at the roster."""
    app = make_app(service)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        app.open_chat(BOB)
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        app.action_show_help_panel()
        await settle(pilot)
        assert app.screen.query("HelpPanel")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, TrustScreen)
        assert not app.screen.query("HelpPanel")
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert isinstance(app.screen, VerifyScreen)
        await pilot.press("f5")
        await settle(pilot)
        assert isinstance(app.screen, RosterScreen)


async def test_question_mark_on_the_roster_list_opens_help(service: FakeService) -> None:
    """With the roster list focused (where letters go on in the filter), ? opens the help."""
    app = make_app(service)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        app.screen.query_one(RosterList).focus()
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)


def _plain(part: Static) -> str:
    """What a Static of Rich renderables shows, as plain text."""
    console = Console(width=200, file=io.StringIO(), record=True)
    console.print(part.content)
    return console.export_text()


async def test_chat_help_says_where_the_message_keys_act(service: FakeService) -> None:
    """F1 in a chat lists ↑ ↓ ⏎ r d under the message list (with Ctrl+L, which goes there),
    not among the screen's keys, and lists Up in an empty message box (edit the last
    message) under the message box."""
    app = make_app(service)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        app.open_chat(BOB)
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        screen_keys = _plain(app.screen.query_one("#help-screen-keys", Static))
        log_keys, box_keys = map(_plain, app.screen.query(".help-widget-keys").results(Static))
        assert "Reply" not in screen_keys
        assert log_keys.startswith("In the message list (Ctrl+L")
        for words in ("Previous message", "Next message", "Message details", "Reply", "Download"):
            assert words in log_keys
        assert box_keys.startswith("In the message box")
        assert "In an empty box: edit your last message" in box_keys


async def test_question_mark_is_typed_in_the_message_box_and_the_help_says_so(
    service: FakeService,
) -> None:
    """In a chat's message box ? is typed (it is text); F1 opens the help, whose last line
    says ? opens it except in a text box, and the README says the same."""
    app = make_app(service)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        app.open_chat(BOB)
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert app.screen.query_one(Composer).text == "?"
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        hints = [str(hint.render()) for hint in app.screen.query(".hint").results(Static)]
        assert "? opens it too, except in a text box. Escape closes it." in hints
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert "F1 or `?`" not in readme
    assert "F1, `?`" not in readme
    assert "`?` too, outside a text box" in readme
