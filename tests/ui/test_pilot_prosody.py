"""Pilot tests of the real app: `commands.app.build_app` over a real profile and Prosody.

Nothing here is a fake: the app is built the way `tui-omemo` builds it (first-run form or
passphrase prompt, then `runtime.online`: SQLCipher profile in tmp_path, slixmpp login to the
Prosody fixture, `OmemoChatService`). The contact is another real `OmemoChatService`
(`make_peer`, from the service tests), so what we assert is what the other side decrypted or
saw published. Waiting is on conditions (`until`), bounded by a generous deadline, never on
time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import keyring.backends.fail
import pytest
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, OptionList, Static

from tests.cli.conftest import Account, DictKeyring, file_digests, subscribe_both
from tests.prosody import ProsodyServer
from tests.service.conftest import Peer, PeerFactory, make_peer  # noqa: F401 (fixture)
from tests.ui.helpers import SIZE
from tui_omemo.commands.app import Startup, build_app
from tui_omemo.commands.console import Console
from tui_omemo.commands.profile import ProfileOptions
from tui_omemo.model import TrustLevel
from tui_omemo.protocol.identity import IDENTITY_KEY
from tui_omemo.service.app_service import OmemoChatService
from tui_omemo.store import KeyringBackend, KeyringKeys, open_profile
from tui_omemo.ui.app import TuiOmemoApp
from tui_omemo.ui.dialogs.trust_uri import TrustUriDialog
from tui_omemo.ui.screens.account import AccountScreen
from tui_omemo.ui.screens.account_edit import AccountEditScreen
from tui_omemo.ui.screens.chat import ChatScreen
from tui_omemo.ui.screens.progress import ProgressScreen
from tui_omemo.ui.screens.roster import RosterScreen
from tui_omemo.ui.screens.search import SearchScreen
from tui_omemo.ui.screens.trust import TrustScreen
from tui_omemo.ui.screens.unlock import UnlockScreen
from tui_omemo.ui.widgets.device_table import DeviceTable
from tui_omemo.ui.widgets.message_log import MessageLog
from tui_omemo.ui.widgets.roster_list import RosterList

pytestmark = [pytest.mark.prosody, pytest.mark.slow]

DEADLINE = 90.0
"""Seconds a condition may take before the test gives up (a failsafe, not a measurement)."""

Condition = Callable[[], bool | Awaitable[bool]]


async def until(pilot: Pilot[None], condition: Condition, what: str) -> None:
    """Let the app run until `condition()` holds; fail with `what` after DEADLINE seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > end:
            raise AssertionError(f"not within {DEADLINE:g} s: {what} ({describe(pilot.app)})")
        await pilot.pause(0.05)


def describe(app: object) -> str:
    """The screen on top, its steps and the errors shown (for a failed wait)."""
    assert isinstance(app, TuiOmemoApp)
    screen = app.screen
    errors = [str(widget.render()) for widget in screen.query(".error")]
    steps = screen.steps if isinstance(screen, ProgressScreen) else ()
    notes = [str(note.message) for note in app._notifications]
    return f"screen {type(screen).__name__}, steps {steps}, errors {errors}, notes {notes}"


def console_with(keyring: Callable[[], KeyringBackend | None]) -> Console:
    """A console with no environment (no passphrase, no TUI_OMEMO_HOME) and `keyring`."""
    return Console(io.StringIO(), io.StringIO(), io.StringIO(), {}, keyring)


def keyring_console(keys: DictKeyring | None = None) -> Console:
    """A console whose keyring is one working in-memory keyring (`keys`, or a new one)."""
    backend = keys or DictKeyring()
    return console_with(lambda: backend)


@contextlib.asynccontextmanager
async def real_app(
    profile: Path, console: Console, peer: str | None = None
) -> AsyncIterator[tuple[TuiOmemoApp, Pilot[None]]]:
    """The app `tui-omemo --profile PROFILE` builds, running under the pilot; everything it
    started (service, connection, database) is closed afterwards."""
    startup = Startup(ProfileOptions(str(profile), None), console, peer)
    app = build_app(startup)
    try:
        async with app.run_test(size=SIZE) as pilot:
            yield app, pilot
    finally:
        await startup.close()
        gc.unfreeze()  # the app froze the test process's objects (a start-up optimisation)


def service_of(app: TuiOmemoApp) -> OmemoChatService:
    service = app.service
    assert isinstance(service, OmemoChatService)
    return service


async def fill_first_run(pilot: Pilot[None], jid: str, password: str, server: str) -> None:
    """Type the account into the first-run form, tick plaintext-on-loopback, submit."""
    screen = pilot.app.screen
    assert isinstance(screen, AccountScreen)
    await pilot.press(*jid, "tab", *password, "tab", *server)
    box = screen.query_one("#plaintext", Checkbox)
    await until(pilot, lambda: not box.disabled, "plaintext is offered for a loopback server")
    box.value = True
    await pilot.click("#add")


async def first_run(pilot: Pilot[None], prosody: ProsodyServer, account: tuple[str, str]) -> None:
    """The first run through the form, up to the roster."""
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, AccountScreen), "the first-run form")
    await fill_first_run(pilot, *account, f"{prosody.host}:{prosody.port}")
    await until(pilot, lambda: isinstance(app.screen, RosterScreen), "the roster after login")


@pytest.fixture
async def contact(
    prosody: ProsodyServer,
    make_peer: PeerFactory,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> tuple[tuple[str, str], Peer]:
    """Our new account and a running contact, subscribed to each other."""
    ours, theirs = prosody.create_account(), prosody.create_account()
    await subscribe_both(
        prosody, Account(*ours, tmp_path / "ours"), Account(*theirs, tmp_path / "theirs")
    )
    return ours, await make_peer(theirs)


async def open_chat_by_filter(pilot: Pilot[None], jid: str) -> ChatScreen:
    """Type the contact's name in the roster filter and press Enter."""
    app = pilot.app

    def listed() -> bool:  # the roster screen may still be composing under load
        rosters = app.screen.query(RosterList)
        return bool(rosters) and any(c.jid == jid for c in rosters.first().chats)

    await until(pilot, listed, f"{jid} in the roster")
    await pilot.press(*jid.partition("@")[0], "enter")
    await until(pilot, lambda: isinstance(app.screen, ChatScreen), "the chat opened")
    screen = app.screen
    assert isinstance(screen, ChatScreen)
    assert screen.peer == jid
    return screen


async def send_and_receive(pilot: Pilot[None], peer: Peer, text: str) -> None:
    """Open the chat with `peer`, send `text`, and wait until the peer decrypted it."""
    await open_chat_by_filter(pilot, peer.jid)
    await pilot.press(*text, "enter")
    received = await peer.next_message()
    assert received.message.body == text


# --- the tests -----------------------------------------------------------------------------


async def test_first_run_creates_the_profile_and_publishes_our_device(
    prosody: ProsodyServer,
    contact: tuple[tuple[str, str], Peer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No profile: the app asks for the account, shows its progress, creates the profile with a
    keyring key, logs in, publishes our device (the contact sees it) and shows the roster."""
    ours, peer = contact
    profile = tmp_path / "ours"
    keys = DictKeyring()
    shown: list[tuple[str, bool]] = []
    step = ProgressScreen.step

    def recording(screen: ProgressScreen, text: str) -> None:
        shown.append((text, screen.app.screen is screen))
        step(screen, text)

    monkeypatch.setattr(ProgressScreen, "step", recording)
    async with real_app(profile, keyring_console(keys)) as (app, pilot):
        await until(pilot, lambda: isinstance(app.screen, AccountScreen), "the first-run form")
        await fill_first_run(pilot, *ours, f"{prosody.host}:{prosody.port}")
        await until(pilot, lambda: isinstance(app.screen, RosterScreen), "the roster")
        assert [text for text, _ in shown] == [
            "Creating the profile and this device's OMEMO keys",
            "Logging in, publishing this device's keys, catching up",
        ]
        assert all(on_top for _, on_top in shown)  # each step was on the progress screen
        device_id = service_of(app).device_id

        async def published() -> bool:
            await peer.service.refresh_device_list(ours[0])
            return device_id in {d.device_id for d in await peer.service.devices(ours[0])}

        await until(pilot, published, "the contact sees our device in our device list")
        roster = app.screen.query_one(RosterList)
        await until(pilot, lambda: peer.jid in {c.jid for c in roster.chats}, "contact listed")
    assert (profile / "tui-omemo.db").exists()
    assert len(keys.entries) == 1  # the database key went to the keyring, not to a passphrase


async def test_second_start_opens_without_asking_and_open_jid_opens_the_chat(
    prosody: ProsodyServer,
    contact: tuple[tuple[str, str], Peer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A keyring profile opens without a prompt: `tui-omemo open JID` logs in with the same
    device, fetches the contact's devices and lands in the chat."""
    ours, peer = contact
    keys = DictKeyring()
    async with real_app(tmp_path / "ours", keyring_console(keys)) as (app, pilot):
        await first_run(pilot, prosody, ours)
        device_id = service_of(app).device_id
    shown: list[str] = []
    step = ProgressScreen.step

    def recording(screen: ProgressScreen, text: str) -> None:
        shown.append(text)
        step(screen, text)

    monkeypatch.setattr(ProgressScreen, "step", recording)
    async with real_app(tmp_path / "ours", keyring_console(keys), peer.jid) as (app, pilot):
        await until(pilot, lambda: isinstance(app.screen, ChatScreen), "the chat")
        assert [type(screen) for screen in app.screen_stack[1:]] == [RosterScreen, ChatScreen]
        assert isinstance(app.screen, ChatScreen)
        assert app.screen.peer == peer.jid
        assert shown == [
            "Logging in, publishing this device's keys, catching up",
            f"Fetching the devices of {peer.jid}",
        ]
        assert service_of(app).device_id == device_id
        known = await service_of(app).devices(peer.jid)
        assert peer.service.device_id in {d.device_id for d in known}


async def test_open_chat_send_and_receive(
    prosody: ProsodyServer, contact: tuple[tuple[str, str], Peer], tmp_path: Path
) -> None:
    """Enter on the contact opens the chat; what we type reaches the contact decrypted, and
    the contact's answer shows in our log."""
    ours, peer = contact
    async with real_app(tmp_path / "ours", keyring_console()) as (app, pilot):
        await first_run(pilot, prosody, ours)
        await send_and_receive(pilot, peer, "hello from the app")
        await peer.service.send(ours[0], "echo: hello from the app")
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        log = screen.query_one(MessageLog)
        await until(
            pilot,
            lambda: any(m.body == "echo: hello from the app" for m in log.messages),
            "the answer in the chat log",
        )
        answer = next(m for m in log.messages if m.body == "echo: hello from the app")
        assert not answer.outgoing


async def test_trust_manager_then_verify_by_uri(
    prosody: ProsodyServer, contact: tuple[tuple[str, str], Peer], tmp_path: Path
) -> None:
    """d on the contact's device in the trust manager stores DISTRUSTED; pasting the contact's
    trust URI (confirmed as received over a trusted channel) stores VERIFIED."""
    ours, peer = contact
    async with real_app(tmp_path / "ours", keyring_console()) as (app, pilot):
        await first_run(pilot, prosody, ours)
        await send_and_receive(pilot, peer, "keys first")
        service = service_of(app)

        async def stored(level: TrustLevel) -> bool:
            records = await service.runner.read(lambda uow: uow.trust.identities(peer.jid))
            return [r.trust for r in records] == [level]

        await pilot.press("ctrl+t")
        await until(pilot, lambda: isinstance(app.screen, TrustScreen), "the trust manager")
        table = app.screen.query_one(DeviceTable)
        await until(
            pilot,
            lambda: any(d.bare_jid == peer.jid for d in table.ordered),
            "the contact's device listed",
        )
        row = next(i for i, d in enumerate(table.ordered) if d.bare_jid == peer.jid)
        table.move_cursor(row=row)
        await pilot.press("d")
        await until(pilot, lambda: bool(app.screen.query("#confirm")), "the distrust question")
        await pilot.click("#confirm")
        await until(pilot, lambda: stored(TrustLevel.DISTRUSTED), "DISTRUSTED in the store")

        await pilot.press("escape", "ctrl+o")
        await until(pilot, lambda: bool(app.screen.query("#paste")), "the verify screen")
        paste = app.screen.query_one("#paste", Input)
        paste.value = await peer.service.own_trust_uri()
        paste.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TrustUriDialog), "the URI preview")
        app.screen.query_one("#confirm", Checkbox).value = True
        await until(pilot, lambda: not app.screen.query_one("#verify").disabled, "Verify on")
        await pilot.click("#verify")
        await until(pilot, lambda: stored(TrustLevel.VERIFIED), "VERIFIED in the store")


async def test_search_finds_the_message_and_jumps_to_it(
    prosody: ProsodyServer, contact: tuple[tuple[str, str], Peer], tmp_path: Path
) -> None:
    """Ctrl+F, a word of a sent message, Enter: one hit; Enter on it opens the chat at it."""
    ours, peer = contact
    async with real_app(tmp_path / "ours", keyring_console()) as (app, pilot):
        await first_run(pilot, prosody, ours)
        await send_and_receive(pilot, peer, "the gingerbread recipe")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, RosterScreen), "back at the roster")
        await pilot.press("ctrl+f")
        await until(pilot, lambda: isinstance(app.screen, SearchScreen), "the search screen")
        await pilot.press(*"gingerbread", "enter")
        hits = app.screen.query_one("#hits", OptionList)
        await until(pilot, lambda: hits.option_count == 1, "one hit")
        hits.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ChatScreen), "the chat at the hit")
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        assert screen.peer == peer.jid
        log = screen.query_one(MessageLog)
        await until(pilot, lambda: log.cursor is not None, "the hit highlighted")
        assert log.cursor is not None
        assert "gingerbread" in log.messages[log.cursor].body


async def test_passphrase_profile_first_run_then_unlock(
    prosody: ProsodyServer, tmp_path: Path
) -> None:
    """Without a keyring the first run asks a new passphrase twice; the next start asks for it,
    refuses a wrong one with the store's message without changing a file, and opens with the
    right one."""
    jid, password = prosody.create_account()
    profile = tmp_path / "ours"
    console = console_with(keyring.backends.fail.Keyring)
    async with real_app(profile, console) as (app, pilot):
        await until(pilot, lambda: isinstance(app.screen, AccountScreen), "the first-run form")
        form = app.screen
        assert isinstance(form, AccountScreen)
        form.query_one("#passphrase", Input).value = "a long passphrase"
        form.query_one("#passphrase2", Input).value = "a long passfrase"
        form.query_one("#jid", Input).focus()
        await fill_first_run(pilot, jid, password, f"{prosody.host}:{prosody.port}")
        error = form.query_one("#error", Static)
        await until(pilot, lambda: "differ" in str(error.render()), "the mismatch refused")
        assert not profile.exists()
        again = form.query_one("#passphrase2", Input)
        again.value = "a long passphrase"
        again.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RosterScreen), "the roster")
    assert (profile / "profile.json").read_text().count("passphrase") == 1
    before = file_digests(profile)

    async with real_app(profile, console) as (app, pilot):
        await until(pilot, lambda: isinstance(app.screen, UnlockScreen), "the passphrase prompt")
        await pilot.press(*"not it", "enter")
        error = app.screen.query_one("#error", Static)
        await until(pilot, lambda: "wrong passphrase" in str(error.render()), "the refusal")
        assert "nothing was changed" in str(error.render())
        assert file_digests(profile) == before
        await pilot.press(*"a long passphrase", "enter")
        await until(pilot, lambda: isinstance(app.screen, RosterScreen), "the roster")
        assert service_of(app).own_jid == jid


async def test_first_run_with_a_wrong_password_is_corrected_in_the_app(
    prosody: ProsodyServer, contact: tuple[tuple[str, str], Peer], tmp_path: Path
) -> None:
    """A wrong password at the first run is no dead end: the app says that the server refused
    the login and offers the account screen; the password typed there logs in with the device
    and identity made at the first run. Once online, the account screen (F4) sets this
    device's label, which the contact then sees on our OMEMO 2 device list."""
    (jid, password), peer = contact
    profile, keys = tmp_path / "ours", DictKeyring()

    def identity() -> str:
        with open_profile(profile, KeyringKeys(keys), None) as db, db.snapshot() as uow:
            record = uow.state.load(IDENTITY_KEY)
        assert record is not None
        return record.value

    async with real_app(profile, keyring_console(keys)) as (app, pilot):
        await until(pilot, lambda: isinstance(app.screen, AccountScreen), "the first-run form")
        await fill_first_run(pilot, jid, "not the password", f"{prosody.host}:{prosody.port}")

        def refused() -> bool:  # the screen on top each time: it may still be the form
            return isinstance(app.screen, ProgressScreen) and app.screen.failed

        await until(pilot, refused, "the login refused")
        progress = app.screen
        assert isinstance(progress, ProgressScreen)
        words = str(progress.query_one("#error", Static).render())
        assert words.startswith(f"Login failed: the server refused the login for {jid}")
        assert "a: fix the account" in str(progress.query_one("#retry", Static).render())
        made = identity()
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, AccountEditScreen), "account screen")
        editor = app.screen
        assert isinstance(editor, AccountEditScreen)
        await until(pilot, lambda: editor.info is not None, "the account read")
        assert "refused the login" in str(editor.query_one("#failure", Static).render())
        assert editor.info is not None
        device_id = editor.info.device_id
        await pilot.press(*password, "enter")
        await until(pilot, lambda: isinstance(app.screen, RosterScreen), "the roster")
        assert service_of(app).device_id == device_id

        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, AccountEditScreen), "account (F4)")
        online = app.screen
        assert isinstance(online, AccountEditScreen)
        await until(pilot, lambda: online.info is not None, "the account read")
        online.query_one("#label", Input).value = "pilot laptop"
        online.query_one("#label", Input).focus()
        await pilot.press("enter")

        async def labelled() -> bool:
            await peer.service.refresh_device_list(jid)
            listed = await peer.service.devices(jid)
            return any(d.device_id == device_id and d.label == "pilot laptop" for d in listed)

        await until(pilot, labelled, "the contact sees our label")
    assert identity() == made
