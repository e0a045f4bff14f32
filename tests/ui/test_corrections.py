"""Last message correction in the app (issue #17, XEP-0308), over the contract-pinned fake
service: Up in an empty composer edits our last message, Enter sends the correction, the log
shows the new text in place (marked edited, not as a new message), the detail lists the
earlier text, Escape gives up; a correction from the contact replaces its message too."""

from __future__ import annotations

from tests.fakes_ui import CAROL, FakeService
from tests.ui.helpers import SIZE, make_app, settle
from tests.ui.test_app import open_chat
from tui_omemo.service.api import MessageSent
from tui_omemo.service.api_files import FileInfo
from tui_omemo.ui.dialogs.message_detail import MessageDetailDialog
from tui_omemo.ui.widgets.composer import Composer
from tui_omemo.ui.widgets.message_log import EDITED_MARK, MessageLog


def corrections(service: FakeService) -> list[tuple[object, ...]]:
    return [args for name, args in service.calls if name == "correct_last"]


async def test_up_edits_the_last_message_and_enter_corrects_it(service: FakeService) -> None:
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_chat(pilot, CAROL)
        log, composer = screen.query_one(MessageLog), screen.query_one(Composer)
        await pilot.press(*"see you at 6", "enter")
        await settle(pilot)
        count = len(log.messages)
        await pilot.press("up")
        assert (composer.text, composer.editing) == ("see you at 6", True)
        await pilot.press("backspace", "7", "enter")
        await settle(pilot)
        assert corrections(service) == [(CAROL, "see you at 7")]
        assert (composer.text, composer.editing) == ("", False)
        assert len(log.messages) == count  # in place, not a new message
        assert (log.messages[-1].body, log.messages[-1].edited) == ("see you at 7", True)
        lines = [log.render_line(y).text for y in range(log.size.height)]
        assert any("see you at 7 " + EDITED_MARK in line for line in lines)

        log.focus()
        await pilot.press("enter")  # the detail of the highlighted (newest) message
        await settle(pilot)
        assert isinstance(app.screen, MessageDetailDialog)
        shown = str(app.screen.query_one("#versions").render())
        assert "see you at 6" in shown


async def test_a_correction_from_the_contact_replaces_its_message(service: FakeService) -> None:
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_chat(pilot, CAROL)
        log = screen.query_one(MessageLog)
        typo = service.receive(CAROL, "teh plan")
        await settle(pilot)
        count = len(log.messages)
        service.receive(CAROL, "the plan", corrects=typo.archive_id)
        await settle(pilot)
        assert len(log.messages) == count
        assert (log.messages[-1].body, log.messages[-1].edited) == ("the plan", True)


async def test_escape_gives_up_the_edit(service: FakeService) -> None:
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_chat(pilot, CAROL)
        composer = screen.query_one(Composer)
        await pilot.press(*"first", "enter")
        await settle(pilot)
        await pilot.press("up", "escape")
        assert (composer.text, composer.editing) == ("", False)
        await pilot.press(*"second", "enter")
        await settle(pilot)
        assert corrections(service) == []


async def test_up_does_not_edit_an_earlier_text_when_our_last_message_is_a_file(
    service: FakeService,
) -> None:
    """Our last message is a file sent after a text: Up in an empty composer does not offer
    the text as "your last message" (the correction would replace the file); it walks the
    input history instead, and Enter then sends a new message, not a correction."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_chat(pilot, CAROL)
        composer = screen.query_one(Composer)
        await pilot.press(*"see you at 6", "enter")
        await settle(pilot)
        info = FileInfo("plan.pdf", "application/pdf")
        sent = service.next_message(CAROL, "aesgcm://x/plan.pdf", outgoing=True, file=info)
        service.emit(MessageSent(sent))
        await settle(pilot)
        await pilot.press("up")
        assert (composer.text, composer.editing) == ("see you at 6", False)
        assert composer.border_title is None
        await pilot.press("enter")
        await settle(pilot)
        assert corrections(service) == []
