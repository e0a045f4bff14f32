"""The messages widgets post (messages up): each widget alone in a harness app that records them."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.message import Message
from textual.widget import Widget

from tests.fakes_ui import BOB, NOW, FakeService
from tests.ui.helpers import make_app, settle
from tui_omemo.service.api import HistoryPage
from tui_omemo.ui.clock import Clock
from tui_omemo.ui.widgets.banner import SecurityBanner
from tui_omemo.ui.widgets.composer import Composer
from tui_omemo.ui.widgets.message_log import MessageLog
from tui_omemo.ui.widgets.roster_list import RosterList


class Harness(App[None]):
    """Shows one widget and keeps every message it posts."""

    def __init__(self, widget: Widget) -> None:
        super().__init__()
        self.widget = widget
        self.seen: list[Message] = []

    def compose(self) -> ComposeResult:
        yield self.widget

    def on_composer_submitted(self, message: Composer.Submitted) -> None:
        self.seen.append(message)

    def on_message_log_message_chosen(self, message: MessageLog.MessageChosen) -> None:
        self.seen.append(message)

    def on_message_log_older_wanted(self, message: MessageLog.OlderWanted) -> None:
        self.seen.append(message)

    def on_roster_list_chat_chosen(self, message: RosterList.ChatChosen) -> None:
        self.seen.append(message)

    def on_security_banner_review_requested(self, message: SecurityBanner.ReviewRequested) -> None:
        self.seen.append(message)


async def test_composer_posts_submitted_on_enter_but_not_for_blank_text() -> None:
    """Enter with only spaces posts nothing; with text, one Submitted carrying it."""
    app = Harness(Composer())
    async with app.run_test() as pilot:
        app.widget.focus()
        await pilot.press("space", "enter")
        assert app.seen == []
        assert isinstance(app.widget, Composer)
        app.widget.load_text("hello")
        await pilot.press("enter")
        await pilot.pause()
        assert [m.text for m in app.seen if isinstance(m, Composer.Submitted)] == ["hello"]


async def test_message_log_posts_older_wanted_at_the_top_and_message_chosen_on_enter() -> None:
    """A page with a cursor asks for older messages at the top; Enter chooses the highlight."""
    service = FakeService()
    service.generate(BOB, 500)
    page = await service.history(BOB, None, 50)
    log = MessageLog(Clock.frozen(NOW))
    app = Harness(log)
    async with app.run_test(size=(80, 20)) as pilot:
        log.set_history(page)
        await pilot.pause(0.05)
        log.focus()
        await pilot.press("up", "enter")
        await pilot.pause()
        chosen = [m for m in app.seen if isinstance(m, MessageLog.MessageChosen)]
        assert [m.message.archive_id for m in chosen] == [500]
        log.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        wanted = [m for m in app.seen if isinstance(m, MessageLog.OlderWanted)]
        assert [m.before for m in wanted] == [page.before]
        log.scroll_end(animate=False, immediate=True)
        log.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        assert len([m for m in app.seen if isinstance(m, MessageLog.OlderWanted)]) == 1
        log.prepend(HistoryPage((), None))


async def test_roster_list_posts_chat_chosen() -> None:
    """Enter on the highlighted row posts ChatChosen with its JID."""
    roster = RosterList()
    app = Harness(roster)
    async with app.run_test() as pilot:
        roster.set_chats(await FakeService().chats())
        roster.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert [m.jid for m in app.seen if isinstance(m, RosterList.ChatChosen)] == [BOB]


async def test_banner_click_posts_review_requested() -> None:
    """A click on the undecided-devices banner asks for a review."""
    banner = SecurityBanner()
    app = Harness(banner)
    async with app.run_test() as pilot:
        banner.show_undecided(2, "Bob")
        await pilot.pause()
        await pilot.click(SecurityBanner)
        assert any(isinstance(m, SecurityBanner.ReviewRequested) for m in app.seen)


async def test_ctrl_t_in_a_chat_reviews_that_contacts_devices() -> None:
    """In Bob's chat Ctrl+T opens the trust manager at Bob's devices, not at the top."""
    from tui_omemo.ui.screens.trust import TrustScreen
    from tui_omemo.ui.widgets.device_table import DeviceTable

    app = make_app(FakeService())
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        app.open_chat(BOB)
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert isinstance(app.screen, TrustScreen)
        current = app.screen.query_one(DeviceTable).current
        assert current is not None
        assert current.bare_jid == BOB


async def test_message_log_repaints_in_the_new_colours_after_a_theme_change() -> None:
    """A restyle that changes nothing keeps the painted lines; a theme change repaints them
    with the new component styles."""
    service = FakeService()
    service.generate(BOB, 20)
    log = MessageLog(Clock.frozen(NOW))
    app = Harness(log)
    async with app.run_test(size=(80, 20)) as pilot:
        log.set_history(await service.history(BOB, None, 20))
        await pilot.pause(0.05)
        before = log.render_line(0)
        app.update_styles(log)
        await pilot.pause()
        assert log.render_line(0) is before
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await pilot.pause(0.05)
        after = log.render_line(0)
        assert after.text == before.text
        assert list(after) != list(before)
