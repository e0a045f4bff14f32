"""File-sharing fixtures: `files`, a factory of `HttpFiles` for connected clients on fresh
Prosody accounts (Prosody's mod_http_file_share on the fixture's loopback HTTP port)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.prosody import ProsodyServer
from tui_omemo.xmpp.client import XmppClient
from tui_omemo.xmpp.http_files import HttpFiles

MakeFiles = Callable[..., Awaitable[HttpFiles]]


@pytest.fixture
async def files(prosody: ProsodyServer) -> AsyncIterator[MakeFiles]:
    """`await files()` → `HttpFiles` of a new logged-in account (plaintext HTTP allowed to
    loopback unless `plain=False`)."""
    clients: list[XmppClient] = []

    async def make(*, plain: bool = True) -> HttpFiles:
        jid, password = prosody.create_account()
        client = XmppClient(
            jid, password, host=prosody.host, port=prosody.port, allow_plaintext_loopback=True
        )
        clients.append(client)
        await client.connect(within=15, announce=False)
        return HttpFiles(client, allow_plaintext_loopback=plain)

    yield make
    for client in clients:
        await client.disconnect()


from tests.cli.conftest import cli, cli_env, new_account, runner  # noqa: E402  (CLI fixtures, shared)

__all__ = ["MakeFiles", "cli", "cli_env", "files", "new_account", "runner"]
