"""Slash commands about the people in a chat (`ui.slash_run` hands them over): `/remove`
(after a confirmation) and `/nick` in a contact's chat, `/plaintext MESSAGE` there after the
plaintext question, and `/invite JID` in a room."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from tui_omemo.ui.dialogs.add_contact import looks_like_bare_jid
from tui_omemo.ui.dialogs.confirm import ConfirmDialog
from tui_omemo.ui.dialogs.plaintext import PlaintextDialog
from tui_omemo.ui.screens.chat import ChatScreen
from tui_omemo.ui.screens.group import GroupChatScreen
from tui_omemo.ui.slash import SlashCommand, SlashError
from tui_omemo.ui.text import neutral

if TYPE_CHECKING:
    from tui_omemo.ui.app import TuiOmemoApp


async def run_contact_command(app: TuiOmemoApp, peer: str, command: SlashCommand) -> None:
    """Carry out /remove, /nick, /invite or /plaintext typed in the chat with `peer`.

    Raises:
        SlashError: the command cannot run here (not a contact's chat, not a room).
    """
    args = command.args
    if command.name == "remove":
        await _contact(app, peer)
        who = neutral(peer, single_line=True)
        dialog = ConfirmDialog(
            f"Remove {who} from your contacts?",
            "Both presence subscriptions end: you stop seeing each other online. "
            "The chat history and your trust decisions stay.",
            "Remove",
        )
        app.push_screen(dialog, partial(_remove_confirmed, app, peer))
    elif command.name == "nick":
        await _contact(app, peer)
        name = " ".join(args)
        await app.service.rename_contact(peer, name)
        app.notify(
            f"{neutral(peer, single_line=True)} is now {neutral(name, single_line=True)}"
            " in your roster.",
            markup=False,
        )
    elif command.name == "invite":
        await _room(app, peer, "/invite")
        if not looks_like_bare_jid(args[0]):
            raise SlashError("Invite whom? Give an address like name@server.")
        member = await app.service.invite(peer, args[0])
        screen = app.screen
        if member and isinstance(screen, GroupChatScreen) and screen.peer == peer:
            screen.show_room(await app.service.room_info(peer))
        who = neutral(args[0], single_line=True)
        made = " (made a member of the room)" if member else ""
        app.notify(f"Invited {who}{made}.", markup=False)
    else:  # plaintext
        await _contact(app, peer)
        text = command.rest
        app.push_screen(
            PlaintextDialog(peer, one_message=True),
            partial(_plaintext_confirmed, app, peer, text),
        )


async def _room(app: TuiOmemoApp, peer: str, name: str) -> None:
    """Refuse a command about a group chat typed anywhere but in one."""
    if not any(chat.jid == peer and chat.is_room for chat in await app.service.chats()):
        raise SlashError(f"{name} works in a group chat.")


async def _contact(app: TuiOmemoApp, peer: str) -> None:
    """Refuse a command about a contact typed anywhere but a contact's chat."""
    if not any(chat.jid == peer and not chat.is_room for chat in await app.service.chats()):
        raise SlashError("This command works in a chat with one of your contacts.")


def _plaintext_confirmed(app: TuiOmemoApp, peer: str, text: str, yes: bool | None) -> None:
    screen = app.screen
    if yes and isinstance(screen, ChatScreen) and screen.peer == peer:
        screen.send_unencrypted(text)


def _remove_confirmed(app: TuiOmemoApp, peer: str, yes: bool | None) -> None:
    if yes:
        app.run_worker(
            _remove(app, peer), group="slash", description="remove contact", exit_on_error=False
        )


async def _remove(app: TuiOmemoApp, peer: str) -> None:
    try:
        await app.service.remove_contact(peer)
    except Exception as error:  # the service's reason is meant for the user
        app.notify(str(error), title="Remove failed", severity="error", markup=False)
        return
    if getattr(app.screen, "peer", None) == peer:
        app.pop_screen()
    await app.refresh_roster()
    app.notify(f"Removed {neutral(peer, single_line=True)} from your contacts.", markup=False)
