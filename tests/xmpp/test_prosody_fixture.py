"""The Prosody fixture itself: fresh accounts log in with plain slixmpp and exchange a message."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
import slixmpp

import devtools.prosody as prosody_module
from devtools.prosody import ProsodyServer

pytestmark = pytest.mark.prosody


def _plain_client(jid: str, password: str) -> slixmpp.ClientXMPP:
    client = slixmpp.ClientXMPP(jid, password)
    client.enable_direct_tls = False
    client.enable_starttls = False
    client.enable_plaintext = True
    client.plugin["feature_mechanisms"].unencrypted_scram = True
    return client


async def _online(client: slixmpp.ClientXMPP, server: ProsodyServer) -> None:
    started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    client.add_event_handler("session_start", lambda _: started.done() or started.set_result(None))
    client.add_event_handler(
        "failed_all_auth",
        lambda _: started.done() or started.set_exception(RuntimeError("auth failed")),
    )
    client.connect(server.host, server.port)
    await asyncio.wait_for(started, 10)
    client.send_presence()


async def test_two_accounts_exchange_a_message(prosody: ProsodyServer) -> None:
    """The fixture's server accepts fresh accounts and routes a chat message between them."""
    alice_jid, alice_password = prosody.create_account()
    bob_jid, bob_password = prosody.create_account()
    assert alice_jid != bob_jid
    assert alice_jid.endswith("@" + prosody.domain)
    alice = _plain_client(alice_jid, alice_password)
    bob = _plain_client(bob_jid, bob_password)
    received: asyncio.Queue[slixmpp.Message] = asyncio.Queue()
    bob.add_event_handler("message", received.put_nowait)
    try:
        await _online(alice, prosody)
        await _online(bob, prosody)
        alice.send_message(mto=bob_jid, mbody="hello from the fixture", mtype="chat")
        message = await asyncio.wait_for(received.get(), 10)
        assert message["body"] == "hello from the fixture"
        assert message["from"].bare == alice_jid
    finally:
        for client in (alice, bob):
            client.disconnect()


def test_create_account_with_a_chosen_localpart_and_refuses_duplicates(
    prosody: ProsodyServer,
) -> None:
    """A chosen localpart is used as given; registering it twice is an error, not a silent reuse."""
    jid, _ = prosody.create_account("chosen-name")
    assert jid == f"chosen-name@{prosody.domain}"
    with pytest.raises(RuntimeError, match="registration"):
        prosody.create_account("chosen-name")


def test_start_survives_a_port_taken_by_someone_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the port we picked is bound by another process before Prosody binds it, the start is
    retried on a new port instead of 'succeeding' against the other listener."""
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    taken = blocker.getsockname()[1]
    real_free_port = prosody_module.free_port
    ports = iter([taken, taken])
    monkeypatch.setattr(prosody_module, "free_port", lambda: next(ports, None) or real_free_port())
    try:
        server = ProsodyServer.start(tmp_path)
        try:
            assert server.port != taken
            jid, _ = server.create_account()
            assert jid.endswith("@localhost")
        finally:
            server.stop()
    finally:
        blocker.close()
