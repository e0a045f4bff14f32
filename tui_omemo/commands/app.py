"""`tui-omemo` without a command, and `tui-omemo open JID`: the Textual app.

The app runs on the same event loop as the service (DESIGN.md §6): the service is started
first (logged in, caught up), then `TuiOmemoApp(service, open_chat=...)` runs until the user
quits, and the service, the connection and the database are closed on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib

from tui_omemo.commands.account import check_jid
from tui_omemo.commands.console import Console, UsageError
from tui_omemo.commands.profile import ProfileOptions
from tui_omemo.commands.runtime import online
from tui_omemo.xmpp.errors import TransportError


def open_app(options: ProfileOptions, jid: str | None, console: Console) -> int:
    """Run the terminal app, with the chat with `jid` open when given.

    Raises:
        UsageError: not on a terminal, or a bad JID.
        CommandError, StoreError, TransportError: the profile or the server failed.
    """
    peer = None if jid is None else check_jid(jid)
    if not (console.stdin.isatty() and console.stdout.isatty()):
        raise UsageError("the terminal app needs a terminal; use the commands in scripts")
    asyncio.run(_run(options, peer, console))
    return 0


async def _run(options: ProfileOptions, peer: str | None, console: Console) -> None:
    from tui_omemo.ui.app import TuiOmemoApp  # Textual loads only when the app is wanted

    async with online(options, console) as running:
        if peer is not None:  # the chat opens with the contact's current devices
            with contextlib.suppress(TransportError):
                await running.service.refresh_device_list(peer)
        await TuiOmemoApp(running.service, open_chat=peer).run_async()
