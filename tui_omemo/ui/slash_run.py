"""Carrying out a slash command (`ui.slash` parses it) on the app, for the chat it was typed in;
it needs nothing of the chat screen but its `peer`. Trust decisions take the same steps as in
the trust manager: the compare step before verifying, a question before distrusting."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

from tui_omemo.config import parse_status
from tui_omemo.model import TrustLevel
from tui_omemo.service.api import DeviceInfo
from tui_omemo.ui import file_actions
from tui_omemo.ui.dialogs.devices_confirm import DevicesConfirmDialog
from tui_omemo.ui.dialogs.verify_device import VerifyDeviceDialog
from tui_omemo.ui.screens.trust import BULK_WORDS, TrustScreen
from tui_omemo.ui.slash import SlashCommand, SlashError
from tui_omemo.ui.slash_contacts import run_contact_command
from tui_omemo.ui.text import neutral
from tui_omemo.ui.widgets.device_table import TRUST_WORDS

if TYPE_CHECKING:
    from tui_omemo.ui.app import TuiOmemoApp


async def run(app: TuiOmemoApp, peer: str, command: SlashCommand) -> None:
    """Carry out `command` typed in the chat with `peer`.

    Raises:
        SlashError: the command cannot run here (no such device, not a room).
    """
    args = command.args
    match command.name:
        case "help":
            app.action_help()
        case "devices" | "verify" if not args:
            app.push_screen(TrustScreen(app.service, app.clock, focus_jid=peer))
        case "verify" | "trust" | "distrust":
            device = await _device(app, peer, args[0])
            _decide(app, device, command.name)
        case "add":
            app.add_contact_now(args[0])
        case "join":
            nick = args[1] if len(args) > 1 else app.service.own_jid.split("@")[0]
            app.join_room_now(args[0], nick)
        case "file":
            await file_actions.send_file(app, peer, command.rest)
        case "remove" | "nick" | "invite" | "plaintext":
            await run_contact_command(app, peer, command)
        case "status":
            await _set_status(app, command)
        case "leave":
            if not any(chat.jid == peer and chat.is_room for chat in await app.service.chats()):
                raise SlashError("/leave works in a group chat.")
            await app.service.leave_room(peer)
            app.pop_screen()
            app.notify(f"Left {neutral(peer, single_line=True)}.", markup=False)


async def _device(app: TuiOmemoApp, peer: str, word: str) -> DeviceInfo:
    """The device of `peer` with the id `word` (its full id)."""
    devices: Sequence[DeviceInfo] = await app.service.devices(peer)
    found = next((d for d in devices if str(d.device_id) == word), None)
    if found is None:
        ids = ", ".join(str(d.device_id) for d in devices) or "none known"
        raise SlashError(
            f"{neutral(peer, single_line=True)} has no device {neutral(word, single_line=True)}"
            f" (devices: {ids})."
        )
    return found


def _decide(app: TuiOmemoApp, device: DeviceInfo, name: str) -> None:
    """Verify after the compare step, distrust after asking, trust blindly at once."""
    level = {
        "verify": TrustLevel.VERIFIED,
        "trust": TrustLevel.BLINDLY_TRUSTED,
        "distrust": TrustLevel.DISTRUSTED,
    }[name]
    who = neutral(device.bare_jid, single_line=True)
    if device.trust is level:
        app.notify(f"{who} device {device.device_id} is already {TRUST_WORDS[level]}.")
        return
    done = partial(_confirmed, app, device, level)
    if level is TrustLevel.VERIFIED:
        app.push_screen(VerifyDeviceDialog(device), done)
    elif level is TrustLevel.DISTRUSTED:
        word, meaning = BULK_WORDS[level]
        title = f"{word} device {device.device_id} of {who}?"
        app.push_screen(DevicesConfirmDialog(title, meaning, [device], word, app.clock), done)
    else:
        done(True)


def _confirmed(app: TuiOmemoApp, device: DeviceInfo, level: TrustLevel, yes: bool | None) -> None:
    if yes:
        app.run_worker(
            _set_trust(app, device, level),
            group="slash",
            description="set trust",
            exit_on_error=False,
        )


async def _set_trust(app: TuiOmemoApp, device: DeviceInfo, level: TrustLevel) -> None:
    await app.service.set_trust(device.bare_jid, device.device_id, level)
    who = neutral(device.bare_jid, single_line=True)
    app.notify(f"{who} device {device.device_id}: {TRUST_WORDS[level]}", markup=False)


async def _set_status(app: TuiOmemoApp, command: SlashCommand) -> None:
    """`/status away back soon`: our availability and status message (both settings)."""
    try:
        show, text = parse_status(command.args[0], command.rest.partition(" ")[2])
    except ValueError as error:
        raise SlashError(f"{error}.") from None
    await app.service.update_setting("show", show)
    await app.service.update_setting("status_message", text)
    shown = f"{show}: {neutral(text, single_line=True)}" if text else show
    app.notify(f"Your status: {shown}", markup=False)
