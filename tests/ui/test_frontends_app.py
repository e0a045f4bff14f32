"""One profile, several front ends (issue 17), with the app open: `tui-omemo --profile P send`
while the real app holds P is served by the app (not refused as "profile in use"); the contact
gets exactly one message and the app's archive holds it once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.cli.conftest import Account as CliAccount
from tests.cli.conftest import CliRunner, subprocess_env
from tests.prosody import ProsodyServer
from tests.service.conftest import Peer, PeerFactory, make_peer  # noqa: F401 (fixture)
from tests.ui.test_pilot_prosody import (
    contact,  # noqa: F401 (fixture)
    first_run,
    keyring_console,
    real_app,
    service_of,
    until,
)
from tui_omemo.cli import main
from tui_omemo.commands import frontends
from tui_omemo.service.api import MessageReceived

pytestmark = [pytest.mark.prosody, pytest.mark.slow]


async def test_send_from_the_command_line_while_the_app_is_open(
    prosody: ProsodyServer,
    contact: tuple[tuple[str, str], Peer],  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    """The app holds the profile; `send` in another process goes out through it."""
    token = frontends.DISPATCH.set(main)  # what `cli.main` hands over when it starts the app
    try:
        await _send_while_open(prosody, contact, tmp_path)
    finally:
        frontends.DISPATCH.reset(token)


async def _send_while_open(
    prosody: ProsodyServer, ours_and_peer: tuple[tuple[str, str], Peer], tmp_path: Path
) -> None:
    ours, peer = ours_and_peer
    runner = CliRunner(subprocess_env())  # no passphrase, no keyring: it opens nothing
    profile = tmp_path / "ours"
    async with real_app(profile, keyring_console()) as (app, pilot):
        await first_run(pilot, prosody, ours)
        await until(pilot, (profile / frontends.SOCKET_NAME).is_socket, "the socket")
        sending = asyncio.ensure_future(
            runner.run(CliAccount(*ours, profile), "send", peer.jid, "from a script")
        )
        await until(pilot, sending.done, "the served send")
        sent = sending.result()
        assert (sent.code, sent.out) == (0, f"sent to {peer.jid} with OMEMO 2\n"), sent.err
        assert (await peer.next_message()).message.body == "from a script"
        texts = await service_of(app).runner.read(
            lambda uow: [m.body for m in uow.archive.page(peer.jid, limit=10).messages]
        )
        assert texts == ["from a script"]
        await asyncio.sleep(0.5)
        assert not [e for e in peer.drain_events() if isinstance(e, MessageReceived)]
