"""`tui-omemo` without a command, and `tui-omemo open JID`: the Textual app.

The app runs on the same event loop as the service (DESIGN.md §6): the service is started
first (logged in, caught up), then `TuiOmemoApp(service, open_chat=...)` runs until the user
quits, and the service, the connection and the database are closed on the way out. A profile
protected by a passphrase, with none in the environment or a file, asks for it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import getpass
from dataclasses import replace

from tui_omemo.commands.account import check_jid
from tui_omemo.commands.console import Console, UsageError
from tui_omemo.commands.profile import ProfileOptions, profile_dir, read_passphrase
from tui_omemo.commands.runtime import online
from tui_omemo.store import KeyringKeys, inspect_profile, needs_passphrase
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
    asyncio.run(_run(_ask_passphrase(options, console), peer, console))
    return 0


def _ask_passphrase(options: ProfileOptions, console: Console) -> ProfileOptions:
    """On the terminal, ask for the passphrase of a passphrase profile when none was given."""
    if read_passphrase(options, console) is not None:
        return options
    directory = profile_dir(options, console)
    if not inspect_profile(directory).database_exists:
        return options
    if not needs_passphrase(directory, KeyringKeys(console.keyring())):
        return options
    typed = getpass.getpass(f"passphrase for {directory}: ")
    return replace(options, typed_passphrase=typed or None)


async def _run(options: ProfileOptions, peer: str | None, console: Console) -> None:
    from tui_omemo.ui.app import TuiOmemoApp  # Textual loads only when the app is wanted

    async with online(options, console) as running:
        if peer is not None:  # the chat opens with the contact's current devices
            with contextlib.suppress(TransportError):
                await running.service.refresh_device_list(peer)
        # Once the app is up, everything alive (modules, service, store, first screens) stays
        # alive: gc.freeze() takes it out of the collector's sight, since full collections
        # walking it blocked the event loop for 100-180 ms in the UI benchmark.
        await TuiOmemoApp(running.service, open_chat=peer, on_ready=gc.freeze).run_async()
