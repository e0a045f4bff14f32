"""Pilot tests of a refused room send: the partial-send dialog only when skipping members
without keys would reach somebody (`SendFailed.partial_possible`), else one line saying why.
A reply or a correction refused so gets the same dialog and stays a reply or correction."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from tests.fakes_ui import BOB, ROOM, FakeService
from tests.ui.helpers import SIZE, make_app, settle
from tui_omemo.service.api import SendReport
from tui_omemo.ui.dialogs.partial_send import PartialSendDialog
from tui_omemo.ui.screens.group import NOBODY_HAS_KEYS, GroupChatScreen
from tui_omemo.ui.widgets.composer import Composer
from tui_omemo.ui.widgets.message_log import MessageLog


async def test_nobody_with_keys_gets_a_line_not_the_dialog() -> None:
    """Nobody in the room has keys: no dialog, nothing sent, partial never chosen, the
    composer keeps the text and one line explains that skipping cannot help."""
    service = FakeService()
    service.remove_room_keys()
    app = make_app(service, open_chat=ROOM)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 6)
        assert isinstance(app.screen, GroupChatScreen)
        await pilot.press(*"hello", "enter")
        await settle(pilot)
        assert isinstance(app.screen, GroupChatScreen)
        line = app.screen.query_one("#send-problem", Static)
        assert not line.has_class("-hidden")
        assert str(line.render()) == NOBODY_HAS_KEYS
        assert app.screen.query_one(Composer).text == "hello"
        names = [name for name, _ in service.calls]
        assert "send" not in names
        assert "set_partial_choice" not in names


async def test_the_dialog_clears_the_line_once_a_send_went_out(service: FakeService) -> None:
    """With some members holding keys the dialog is offered; after choosing to skip, the
    message goes out and no problem line is left."""
    app = make_app(service, open_chat=ROOM)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 6)
        await pilot.press(*"hello", "enter")
        await settle(pilot)
        assert isinstance(app.screen, PartialSendDialog)
        await pilot.click("#partial")
        await settle(pilot)
        assert isinstance(app.screen, GroupChatScreen)
        assert app.screen.query_one("#send-problem", Static).has_class("-hidden")
        assert ("set_partial_choice", (ROOM, True)) in service.calls


async def test_a_refused_reply_gets_the_same_choice_and_stays_a_reply(
    service: FakeService,
) -> None:
    """A reply in a room with a member without keys offers the partial-send dialog like any
    message (not just "Not sent"): Cancel keeps the reply in the composer and sends nothing;
    accepting remembers the choice for the room and sends it as a reply to that message;
    the next reply goes out without asking."""
    app = make_app(service, open_chat=ROOM)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 6)
        screen = app.screen
        assert isinstance(screen, GroupChatScreen)
        log, composer = screen.query_one(MessageLog), screen.query_one(Composer)
        asked = service.receive(ROOM, "tea at five?", nick="bob", sender=BOB)
        await settle(pilot)
        log.focus()
        await pilot.press("r", *"five is fine", "enter")
        await settle(pilot)
        assert isinstance(app.screen, PartialSendDialog)
        await pilot.click("#cancel")
        await settle(pilot)
        assert (composer.text, composer.replying) == ("five is fine", asked.archive_id)
        assert log.messages[-1].archive_id == asked.archive_id  # nothing sent

        composer.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PartialSendDialog)
        await pilot.click("#partial")
        await settle(pilot)
        assert app.screen is screen
        assert ("set_partial_choice", (ROOM, True)) in service.calls
        assert (composer.text, composer.replying) == ("", None)
        mine = log.messages[-1]
        assert (mine.body, mine.reply_to, mine.outgoing) == (
            "five is fine",
            asked.message_id,
            True,
        )

        log.focus()
        await pilot.press("r", *"or six", "enter")  # remembered for the room: no dialog
        await settle(pilot)
        assert app.screen is screen
        assert (log.messages[-1].body, composer.replying) == ("or six", None)
        assert log.messages[-1].reply_to is not None


async def test_a_refused_correction_gets_the_same_choice(service: FakeService) -> None:
    """A correction in a room refused for members without keys offers the same dialog;
    accepting sends it as the correction of our last message (edited in place)."""
    app = make_app(service, open_chat=ROOM)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 6)
        screen = app.screen
        assert isinstance(screen, GroupChatScreen)
        log, composer = screen.query_one(MessageLog), screen.query_one(Composer)
        await service.set_partial_choice(ROOM, True)
        await pilot.press(*"see you at 6", "enter")
        await settle(pilot)
        await service.set_partial_choice(ROOM, False)  # the room's choice withdrawn
        count = len(log.messages)
        await pilot.press("up", "backspace", "7", "enter")
        await settle(pilot)
        assert isinstance(app.screen, PartialSendDialog)
        await pilot.click("#partial")
        await settle(pilot)
        assert app.screen is screen
        assert (composer.text, composer.editing) == ("", False)
        assert len(log.messages) == count
        assert (log.messages[-1].body, log.messages[-1].edited) == ("see you at 7", True)


class RoomFiles:
    """Sends each file's link through the fake service's room send (which refuses while a
    member has no keys unless "everyone with keys" is chosen), recording each try."""

    def __init__(self, service: FakeService) -> None:
        self.service = service
        self.tries: list[tuple[Path, bool]] = []

    async def send_file(
        self,
        peer: str,
        path: Path,
        progress: object = None,
        *,
        room: bool,
        allow_partial: bool = False,
    ) -> SendReport:
        self.tries.append((path, allow_partial))
        link = f"aesgcm://h.example/s/{path.name}#" + "0" * 88
        return await self.service.send_to_room(peer, link, allow_partial=allow_partial)


async def test_a_refused_file_gets_the_same_choice(service: FakeService, tmp_path: Path) -> None:
    """`/file PATH` in a room with a member without keys offers the partial-send dialog (it
    only said "File not sent"); accepting remembers the choice and sends the file again to
    everyone with keys."""
    share = RoomFiles(service)
    app = make_app(service, open_chat=ROOM, files=lambda: share)
    plan = tmp_path / "plan.txt"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 6)
        screen = app.screen
        await pilot.press(*f"/file {plan}", "enter")
        await settle(pilot)
        assert isinstance(app.screen, PartialSendDialog)
        await pilot.click("#partial")
        await settle(pilot, 8)
        assert app.screen is screen
        assert ("set_partial_choice", (ROOM, True)) in service.calls
        assert screen.query_one(MessageLog).messages[-1].body.endswith("plan.txt#" + "0" * 88)
    assert share.tries == [(plan, False), (plan, True)]
