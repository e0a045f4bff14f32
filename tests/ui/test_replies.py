"""Replies in the app (issue #17, XEP-0461), over the contract-pinned fake service: `r` on a
message in the chat log starts a reply (the composer says which message), Enter sends it to the
contact as a reply to that message, and the log shows a "↪ reply to" line above it; Escape
gives up the reply. The same in a room."""

from __future__ import annotations

from tests.fakes_ui import BOB, CAROL, ROOM, FakeService
from tests.ui.helpers import SIZE, make_app, settle
from tests.ui.test_app import open_chat
from tui_omemo.ui.dialogs.message_detail import MessageDetailDialog
from tui_omemo.ui.screens.group import GroupChatScreen
from tui_omemo.ui.widgets.composer import Composer
from tui_omemo.ui.widgets.message_log import MessageLog


async def test_r_replies_to_the_selected_message(service: FakeService) -> None:
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_chat(pilot, CAROL)
        log, composer = screen.query_one(MessageLog), screen.query_one(Composer)
        asked = service.receive(CAROL, "[b]lunch[/b] at noon?")
        await settle(pilot)
        log.focus()
        await pilot.press("r")
        await settle(pilot)
        assert composer.replying == asked.archive_id
        assert "replying to" in str(composer.border_title)
        await pilot.press("escape")
        assert composer.replying is None

        log.focus()
        await pilot.press("r")
        await pilot.press(*"noon is fine", "enter")
        await settle(pilot)
        assert [a for n, a in service.calls if n == "reply"] == [
            (CAROL, asked.archive_id, "noon is fine")
        ]
        assert (composer.text, composer.replying) == ("", None)
        assert (log.messages[-1].body, log.messages[-1].reply_to) == (
            "noon is fine",
            asked.message_id,
        )
        lines = [log.render_line(y).text for y in range(log.size.height)]
        above = lines.index(next(line for line in lines if "noon is fine" in line)) - 1
        assert "↪ reply to" in lines[above]
        assert "[b]lunch[/b] at noon?" in lines[above]  # peer text as plain text


async def test_r_replies_in_a_room(service: FakeService) -> None:
    """In a room's log `r` answers a member's message as in a 1:1 chat: the reply goes to
    the room naming that message, and the line above it names the member by nick; a
    member's reply to ours names it by the id the room stamped on it after it was shown."""
    await service.set_partial_choice(ROOM, True)  # the choice itself: tests/ui/test_group_send
    app = make_app(service, open_chat=ROOM)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 6)
        screen = app.screen
        assert isinstance(screen, GroupChatScreen)
        log, composer = screen.query_one(MessageLog), screen.query_one(Composer)
        asked = service.receive(ROOM, "[i]tea[/i] at five?", nick="bob", sender=BOB)
        await settle(pilot)
        log.focus()
        await pilot.press("r", *"five is fine", "enter")
        await settle(pilot)
        assert [a for n, a in service.calls if n == "reply"] == [
            (ROOM, asked.archive_id, "five is fine")
        ]
        assert (composer.text, composer.replying) == ("", None)
        mine = log.messages[-1]
        assert (mine.body, mine.reply_to, mine.nick) == ("five is fine", asked.message_id, "alice")
        lines = [log.render_line(y).text for y in range(log.size.height)]
        above = lines.index(next(line for line in lines if "five is fine" in line)) - 1
        assert "↪ reply to bob: [i]tea[/i] at five?" in lines[above]

        # ours got its id from the room after it was shown: a reply to it names it
        assert mine.message_id is not None
        service.receive(ROOM, "see you", nick="bob", sender=BOB, reply_to=mine.message_id)
        await settle(pilot)
        lines = [log.render_line(y).text for y in range(log.size.height)]
        above = lines.index(next(line for line in lines if "see you" in line)) - 1
        assert "↪ reply to me: five is fine" in lines[above]


async def test_r_in_the_message_detail_replies_to_that_message(service: FakeService) -> None:
    """`r` in a message's detail (Enter on it) closes the detail and the composer answers
    that message, as `r` in the log does."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_chat(pilot, CAROL)
        log, composer = screen.query_one(MessageLog), screen.query_one(Composer)
        asked = service.receive(CAROL, "lunch at noon?")
        service.receive(CAROL, "or later")
        await settle(pilot)
        log.focus()
        await pilot.press("up", "up", "enter")
        await settle(pilot)
        assert isinstance(app.screen, MessageDetailDialog)
        await pilot.press("r")
        await settle(pilot)
        assert app.screen is screen
        assert composer.replying == asked.archive_id
        assert "lunch at noon?" in str(composer.border_title)
