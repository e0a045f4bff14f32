"""Slash commands in the composer: parsed in `ui.slash` (an unknown one is an error, never
sent), completed on Tab, and carried out like the keys they stand for."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual import events
from textual.widgets import Static

from tests.fakes_ui import BOB, ROOM, FakeService
from tests.ui.helpers import SIZE, make_app, settle
from tui_omemo.model import TrustLevel
from tui_omemo.ui.app import TuiOmemoApp
from tui_omemo.ui.dialogs.verify_device import VerifyDeviceDialog
from tui_omemo.ui.screens.help import HelpScreen
from tui_omemo.ui.screens.roster import RosterScreen
from tui_omemo.ui.slash import SlashCommand, SlashError, complete, is_command, parse
from tui_omemo.ui.widgets.composer import Composer


def test_parse_names_the_command_and_checks_its_arguments() -> None:
    """Known commands with their arguments; an unknown one or a wrong count is refused with
    the reason; "//" is a message."""
    assert parse("/verify 2002") == SlashCommand("verify", ("2002",))
    assert parse("/JOIN tea@rooms.example.org") == SlashCommand("join", ("tea@rooms.example.org",))
    with pytest.raises(SlashError, match=r"Unknown command /frob: /help lists"):
        parse("/frob now")
    with pytest.raises(SlashError, match=r"Usage: /trust DEVICE"):
        parse("/trust")
    assert not is_command("//not a command")


@pytest.mark.parametrize("line", ["/", "/   ", "/ status away"])
def test_a_slash_without_a_command_name_says_so_in_words(line: str) -> None:
    """A lone "/" (or one followed by a space) is refused with a sentence, not with Python's
    "not enough values to unpack" (the journey: "/" Enter in a chat)."""
    with pytest.raises(SlashError, match=r"^A command follows the / at once \(/help lists"):
        parse(line)


def test_tab_completes_the_command_name() -> None:
    assert complete("/ver") == "/verify "
    assert complete("/d") == "/d"  # devices, distrust
    assert complete("/dev") == "/devices "
    assert complete("/zzz") == "/zzz"


async def type_in_chat(app: TuiOmemoApp, pilot: object, *keys: str) -> Composer:
    app.open_chat(BOB)
    await settle(pilot)  # type: ignore[arg-type]
    composer = app.screen.query_one(Composer)
    composer.focus()
    await pilot.press(*keys)  # type: ignore[attr-defined]
    await settle(pilot)  # type: ignore[arg-type]
    return composer


def sends(service: FakeService) -> list[tuple[object, ...]]:
    return [args for name, args in service.calls if name == "send"]


async def test_an_unknown_command_is_an_error_and_is_not_sent(service: FakeService) -> None:
    """ "/frobnicate" Enter: an error toast, nothing sent, the line still typed."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        composer = await type_in_chat(app, pilot, *"/frobnicate", "enter")
        assert sends(service) == []
        assert composer.text == "/frobnicate"
        assert any("Unknown command /frobnicate" in n.message for n in app._notifications)


async def test_tab_then_a_device_opens_the_compare_step(service: FakeService) -> None:
    """ "/ver", Tab, "2002", Enter: the compare step for Bob's device 2002."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        composer = await type_in_chat(app, pilot, *"/ver", "tab")
        assert composer.text == "/verify "
        await pilot.press(*"2002", "enter")
        await settle(pilot)
        assert isinstance(app.screen, VerifyDeviceDialog)
        assert "2002" in str(app.screen.query_one(".dialog-title", Static).render())


async def test_trust_add_and_a_double_slash_message(service: FakeService) -> None:
    """/trust 2003 trusts it blindly and clears the line; /add asks the service; "//hi"
    sends "/hi" as a message."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        composer = await type_in_chat(app, pilot, *"/trust 2003", "enter")
        await settle(pilot)
        assert ("set_trust", (BOB, 2003, TrustLevel.BLINDLY_TRUSTED)) in service.calls
        assert composer.text == ""
        await pilot.press(*"/add zoe@example.org", "enter")
        await settle(pilot)
        assert any(name == "add_contact" for name, _ in service.calls)
        await pilot.press(*"//hi", "enter")
        await settle(pilot)
        assert sends(service)[-1][:2] == (BOB, "/hi")


async def test_help_in_a_chat_lists_the_commands(service: FakeService) -> None:
    """/help opens the help, which lists the commands."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_in_chat(app, pilot, *"/help", "enter")
        assert isinstance(app.screen, HelpScreen)
        assert app.screen.query("#help-commands")


async def test_leave_leaves_a_room_and_is_refused_in_a_one_to_one_chat(
    service: FakeService,
) -> None:
    """/leave in Bob's chat is an error; in the tea room it leaves it and shows the roster."""
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        composer = await type_in_chat(app, pilot, *"/leave", "enter")
        assert composer.text == "/leave"
        assert not any(name == "leave_room" for name, _ in service.calls)
        app.open_chat(ROOM)
        await settle(pilot)
        app.screen.query_one(Composer).focus()
        await pilot.press(*"/leave", "enter")
        await settle(pilot)
        assert ("leave_room", (ROOM,)) in service.calls
        assert isinstance(app.screen, RosterScreen)


async def test_tab_right_after_fast_typing_completes_instead_of_leaving(
    service: FakeService, tmp_path: Path
) -> None:
    """ "/fi", Tab, then a path and Tab arriving together (a fast typist, a paste, a slow link):
    each Tab completes what was typed before it, and the composer keeps the focus; a Tab after
    a plain message still moves the focus on."""
    (tmp_path / "holiday-photos").mkdir()
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        composer = await type_in_chat(app, pilot)
        for character in f"/fi\t{tmp_path}/hol\t":
            key = "tab" if character == "\t" else character
            app.post_message(events.Key(key, character))
        await settle(pilot)
        assert composer.text == f"/file {tmp_path}/holiday-photos/"
        assert app.focused is composer
        composer.load_text("hello")
        app.post_message(events.Key("tab", "\t"))
        await settle(pilot)
        assert app.focused is not composer
