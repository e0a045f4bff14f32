"""`listen` through an outage (issue 19): the relay in front of Prosody drops every connection
and comes back; `listen` says so on stderr (the outage, then the recovery), reconnects by
itself and prints what is sent to it afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Account, CliRunner, Listener, subscribe_both
from tests.cli.test_send_unconfirmed import behind
from tests.prosody import ProsodyServer
from tests.relay import Relay
from tui_omemo.service.ports import LINK_LOST, LINK_ONLINE, LINK_RESUMED

pytestmark = pytest.mark.prosody

NewAccount = Callable[[str], Awaitable[Account]]


async def stderr_line(listener: Listener, wait: float = 30) -> str:
    assert listener.process.stderr is not None
    line = await asyncio.wait_for(listener.process.stderr.readline(), wait)
    assert line, "listen ended"
    return line.decode().strip()


async def test_listen_reports_the_outage_and_the_recovery_and_goes_on(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount, tmp_path: Path
) -> None:
    async with Relay(prosody.port) as relay:
        alice = await behind(relay, prosody, runner, tmp_path)
        bob = await new_account("bob")
        await subscribe_both(prosody, alice, bob)
        listener = await runner.start(alice, "listen", "--json", "--count", "1", "--timeout", "60")
        try:
            await listener.wait_ready()
            await relay.down()  # every connection cut
            assert await stderr_line(listener) == f"tui-omemo: {LINK_LOST}"
            await relay.up()
            assert await stderr_line(listener) in {
                f"tui-omemo: {LINK_RESUMED}",
                f"tui-omemo: {LINK_ONLINE}",
            }
            sent = await runner.run(bob, "send", alice.jid, "after the outage")
            assert sent.code == 0, sent.err
            assert (await listener.next_json())["text"] == "after the outage"
            assert await listener.wait() == 0
        finally:
            await listener.stop()
