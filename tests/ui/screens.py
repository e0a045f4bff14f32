"""The screens and states worth a picture, shared by the snapshot and the screenshot tests.

Each entry: a name, how to build the app, and what to do with the pilot before the picture.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from textual.pilot import Pilot
from textual.widgets import Input

from tests.fakes_ui import BOB, CAROL, DAVE, ROOM, FakeService, _device, fingerprint
from tests.ui.helpers import settle
from tui_omemo.model import Namespace, TrustLevel
from tui_omemo.service.api import (
    ChatSecurity,
    ChatStateChanged,
    ChatSummary,
    Delivery,
    Presence,
    RefusedCertificate,
)
from tui_omemo.ui.app import TuiOmemoApp
from tui_omemo.ui.screens.account import AccountForm
from tui_omemo.ui.screens.account_edit import AccountEditScreen
from tui_omemo.ui.screens.progress import ProgressScreen
from tui_omemo.ui.widgets.device_table import DeviceTable
from tui_omemo.ui.widgets.message_log import MessageLog


async def _nothing(pilot: Pilot[None]) -> None:
    await settle(pilot)


def _open(jid: str, *keys: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        app = pilot.app
        assert isinstance(app, TuiOmemoApp)
        app.open_chat(jid)
        await settle(pilot)
        if keys:
            await pilot.press(*keys)
            await settle(pilot)

    return run


def _keys(*keys: str, text: str = "") -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press(*keys)
        await settle(pilot)
        if text:
            await pilot.press(*text, "enter")
            await settle(pilot)

    return run


async def _paste_uri(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await pilot.press("ctrl+o")
    await settle(pilot)
    box = pilot.app.screen.query_one("#paste", Input)
    box.value = f"xmpp:{BOB}?omemo-sid-2002={fingerprint(BOB, 2002)};omemo-sid-2099={'0' * 64}"
    box.focus()
    await pilot.press("enter")
    await settle(pilot)


async def _settings_problem(pilot: Pilot[None]) -> None:
    """Settings, scrolled to the trust mode, with a refused hour count typed above it."""
    await settle(pilot)
    await pilot.press("f2")
    await settle(pilot)
    box = pilot.app.screen.query_one("#value-renew_signed_prekey_after_hours", Input)
    box.focus()
    box.value = ""
    await pilot.press("0", "enter")
    pilot.app.screen.query_one("#option-trust_mode").scroll_visible(animate=False)
    await settle(pilot)


STRANGER = "frank@example.org"
"""Someone not in the roster, with one OMEMO device (a chat opened with `open JID`)."""


def _holding_delivery() -> FakeService:
    """The server has not confirmed our messages yet: they keep their pending mark."""
    service = FakeService()
    service.hold_delivery = True
    return service


def _with_stranger() -> FakeService:
    service = FakeService()
    service._devices.append(_device(STRANGER, 6001, TrustLevel.BLINDLY_TRUSTED))
    return service


async def _answered(pilot: Pilot[None]) -> None:
    """Carol's chat: our message went out (delivered), and her answer came."""
    await _open(CAROL, *"Running late, there by ten past.", "enter")(pilot)
    service = pilot.app.service
    assert isinstance(service, FakeService)
    service.receive(
        CAROL,
        "No problem, I saved you a seat.",
        sender=CAROL,
        omemo=service.next_message(CAROL, "").omemo,
        sender_device_id=3001,
    )
    await settle(pilot)


async def _typing(pilot: Pilot[None]) -> None:
    """Carol's chat, Carol typing (XEP-0085)."""
    await _open(CAROL)(pilot)
    service = pilot.app.service
    assert isinstance(service, FakeService)
    service.emit(ChatStateChanged(CAROL, "composing"))
    await settle(pilot)


async def _acknowledged(pilot: Pilot[None]) -> None:
    """Carol's chat (issue 17): our first message was read, the second reached her device,
    the third only the server."""
    texts = ("Dinner at eight?", "I'll book the table.", "See you there.")
    await _open(CAROL, *texts[0], "enter", *texts[1], "enter", *texts[2], "enter")(pilot)
    service = pilot.app.service
    assert isinstance(service, FakeService)
    ours = [m for m in (await service.history(CAROL, None, 50)).messages if m.body in texts]
    service.acknowledge(ours[0].archive_id, Delivery.READ)
    service.acknowledge(ours[1].archive_id, Delivery.RECEIVED)
    await settle(pilot)


def _room_without_keys() -> FakeService:
    service = FakeService()
    service.remove_room_keys()
    return service


async def _unlock(passphrase: str) -> None:
    raise ValueError("Wrong passphrase.")


def _progress(
    *steps: str, failure: str = "", account: bool = False
) -> Callable[[Pilot[None]], Awaitable[None]]:
    """The progress screen of going online, after `steps`, failed with `failure` if given
    (offering the account screen when `account`)."""

    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        screen = ProgressScreen("Setting up alice@localhost", account=account)
        await pilot.app.push_screen(screen)
        for step in steps:
            screen.step(step)
        if failure:
            screen.fail(failure)
        await settle(pilot)

    return run


_LOGIN_REFUSED = (
    "Login failed: the server refused the login for alice@localhost. Is the password right "
    "(did it change on the server)?"
)


async def _account_after_failed_login(pilot: Pilot[None]) -> None:
    """The account screen as a failed login offers it (over the fake's account)."""
    await settle(pilot)
    service = pilot.app.service
    assert isinstance(service, FakeService)
    await pilot.app.push_screen(AccountEditScreen(service, _LOGIN_REFUSED))
    await settle(pilot)


_SELF_SIGNED = RefusedCertificate(
    "example.org",
    "5C:23:6B:04:20:77:F9:37:F6:AC:A4:54:C7:3D:0F:C7:67:3C:43:54:5F:06:29:50:04:1A:1E:0E:1F:CE:39:4C",
    "the certificate of example.org is not trusted: self-signed",
)


def _certificate_refused(*keys: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    """The account screen after a login that refused a self-signed certificate, then `keys`."""

    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        service = pilot.app.service
        assert isinstance(service, FakeService)
        failure = f"Login failed: {_SELF_SIGNED.problem}, SHA-256 {_SELF_SIGNED.fingerprint}."
        await pilot.app.push_screen(AccountEditScreen(service, failure, _SELF_SIGNED))
        await settle(pilot)
        if keys:
            await pilot.press(*keys)
            await settle(pilot)

    return run


_FIRST_RUN_STEPS = (
    "Creating the profile and this device's OMEMO keys",
    "Logging in, publishing this device's keys, catching up",
)
_NO_KEYRING_FORM = AccountForm(ask_passphrase=True, is_loopback=lambda _jid, _server: True)


async def _compare_step(pilot: Pilot[None]) -> None:
    """The trust manager's compare step for Bob's undecided device 2002."""
    await settle(pilot)
    await pilot.press("ctrl+t")
    await settle(pilot)
    table = pilot.app.screen.query_one(DeviceTable)
    table.move_cursor(row=next(i for i, d in enumerate(table.ordered) if d.device_id == 2002))
    await pilot.press("v")
    await settle(pilot)


async def _paste_different_key(pilot: Pilot[None]) -> None:
    """A pasted URI whose key for Bob's 2002 differs in groups 2 and 7."""
    await settle(pilot)
    await pilot.press("ctrl+o")
    await settle(pilot)
    right = fingerprint(BOB, 2002)
    wrong = right[:8] + "0" * 8 + right[16:48] + "f" * 8 + right[56:]
    box = pilot.app.screen.query_one("#paste", Input)
    box.value = f"xmpp:{BOB}?omemo-sid-2002={wrong};omemo-sid-2003={fingerprint(BOB, 2003)}"
    box.focus()
    await pilot.press("enter")
    await settle(pilot)


ASKING = "zoe@example.org"
"""Someone not in the roster who asks to see our presence (issue 17)."""


def _asking() -> FakeService:
    """Zoe asks to see our presence; Frank is away for long (xa) with a status message."""
    service = FakeService()
    service.add_chat(
        ChatSummary(
            "frank@example.org", "Frank", False, Presence.XA, 0, ChatSecurity.SOME_BLIND,
            Namespace.V2, "on holiday until Monday",
        )
    )  # fmt: skip
    service.ask_subscription(ASKING)
    return service


@dataclass(frozen=True)
class Shot:
    """One picture: `name`, app options, service factory and the steps before it."""

    name: str
    before: Callable[[Pilot[None]], Awaitable[None]] = _nothing
    service: Callable[[], FakeService] = FakeService
    options: dict[str, object] = field(default_factory=dict)


async def _edited(pilot: Pilot[None]) -> None:
    """Carol's chat: our last message corrected with Up, and hers corrected by her (XEP-0308):
    both show the new text, marked edited."""
    await _open(CAROL, *"Running late, there by ten.", "enter")(pilot)
    await pilot.press("up", "backspace", *" past.", "enter")
    await settle(pilot)
    service = pilot.app.service
    assert isinstance(service, FakeService)
    omemo = service.next_message(CAROL, "").omemo
    seat = service.receive(CAROL, "I saved you a seet.", omemo=omemo, sender_device_id=3001)
    service.receive(CAROL, "I saved you a seat.", omemo=omemo, corrects=seat.archive_id)
    await settle(pilot)


async def _replied(pilot: Pilot[None]) -> None:
    """Carol's chat: her question answered with `r` (a XEP-0461 reply), and her reply to that
    answer: each shows "↪ reply to" the message it answers, without the quote."""
    await _open(CAROL)(pilot)
    service = pilot.app.service
    assert isinstance(service, FakeService)
    omemo = service.next_message(CAROL, "").omemo
    service.receive(CAROL, "Lunch on Friday? The usual place or the new one?", omemo=omemo)
    await settle(pilot)
    log = pilot.app.screen.query_one(MessageLog)
    log.focus()
    await pilot.press("r", *"The new one, at noon.", "enter")
    await settle(pilot)
    answer = log.messages[-1].message_id
    service.receive(CAROL, "Noon it is, I'll book a table.", omemo=omemo, reply_to=answer)
    await settle(pilot)


SHOTS: tuple[Shot, ...] = (
    Shot("roster"),
    Shot("roster_empty", service=lambda: FakeService(empty=True)),
    Shot("roster_presence_and_request", service=_asking),
    Shot("subscription_dialog", _keys(*"zoe", "enter"), service=_asking),
    Shot("chat_undecided_banner", _open(BOB)),
    Shot("chat_failure_detail", _open(BOB, "ctrl+l", "up", "up", "enter")),
    Shot("chat_untrusted_message", _open(BOB, "ctrl+l", "up", "up", "up")),
    Shot("chat_plaintext_choice", _open(DAVE, *"hello", "enter")),
    Shot(
        "chat_own_message_pending",
        _open(CAROL, *"On my way, see you at three.", "enter"),
        service=_holding_delivery,
    ),
    Shot("chat_own_message_answered", _answered),
    Shot("chat_typing", _typing),
    Shot("chat_edited_messages", _edited),
    Shot("chat_replies", _replied),
    Shot("chat_delivery_marks", _acknowledged),
    Shot(
        "chat_not_in_roster",
        _open(STRANGER, *"Hello Frank, Bob gave me your address.", "enter"),
        service=_with_stranger,
    ),
    Shot("group_readiness", _open(ROOM)),
    Shot("group_partial_send_dialog", _open(ROOM, *"hello", "enter")),
    Shot("group_nobody_has_keys", _open(ROOM, *"hello", "enter"), service=_room_without_keys),
    Shot("trust_manager", _keys("ctrl+t")),
    Shot("trust_bulk_confirm", _keys("ctrl+t", "down", "down", "down", "D")),
    Shot("trust_stale_preview", _keys("ctrl+t", "x")),
    Shot("trust_verify_compare", _compare_step),
    Shot("trust_help", _keys("ctrl+t", "f1")),
    Shot("roster_help", _keys("f1")),
    Shot("settings_refused_number", _settings_problem),
    Shot("verify_qr", _keys("ctrl+o")),
    Shot("verify_uri_confirmation", _paste_uri),
    Shot("verify_uri_different_key", _paste_different_key),
    Shot("add_contact_dialog", _keys("ctrl+n")),
    Shot("search_results", _keys("ctrl+f", text="keys")),
    Shot("security_events", _keys("f3")),
    Shot("settings", _keys("f2")),
    Shot("account", _keys("f4")),
    Shot("account_after_failed_login", _account_after_failed_login),
    Shot("account_certificate_refused", _certificate_refused()),
    Shot("account_pin_certificate_dialog", _certificate_refused("enter")),
    Shot(
        "login_failed_offers_account",
        _progress(_FIRST_RUN_STEPS[1], failure=_LOGIN_REFUSED, account=True),
    ),
    Shot("unlock_passphrase", options={"unlock": _unlock}),
    Shot("unlock_wrong_passphrase", _keys(*"nope", "enter"), options={"unlock": _unlock}),
    Shot("first_run_account", options={"setup": _unlock}),
    Shot(
        "first_run_passphrase",
        _keys(*"alice@localhost"),
        options={"setup": _unlock, "account_form": _NO_KEYRING_FORM},
    ),
    Shot("first_run_progress", _progress(*_FIRST_RUN_STEPS)),
    Shot(
        "first_run_login_failed",
        _progress(*_FIRST_RUN_STEPS, failure="the server refused the login: not-authorized"),
    ),
)

LARGE_SHOTS: tuple[Shot, ...] = tuple(
    shot
    for shot in SHOTS
    if shot.name
    in {
        "roster",
        "roster_presence_and_request",
        "chat_undecided_banner",
        "group_readiness",
        "trust_manager",
        "trust_verify_compare",
        "verify_qr",
        "search_results",
        "security_events",
        "settings",
        "account",
        "roster_help",
        "unlock_passphrase",
        "first_run_account",
    }
)
"""One shot per screen, also taken at `helpers.LARGE`."""
