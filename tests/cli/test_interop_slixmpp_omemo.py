"""Interop through Prosody with an independent implementation: slixmpp-omemo 2.2 (python-omemo),
through its users' receive path (a handler on slixmpp's `message` event calling the plugin's
`decrypt_message`): OMEMO 0.3 both ways, and OMEMO 2 both ways (slixmpp-omemo's own
`encrypt_message` only produces 0.3, and its `decrypt_message` stops short of unpacking SCE;
see `omemo_peer.py`). A plain slixmpp client without OMEMO gets the fallback body."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest

from tests.cli.conftest import Account, CliRunner, subscribe_both
from tests.cli.omemo_peer import FALLBACK_MARKER, LEGACY, V2, OmemoPeer, PlainClient
from tests.prosody import ProsodyServer

pytestmark = [pytest.mark.prosody, pytest.mark.slow]


NewAccount = Callable[[str], Awaitable[Account]]


async def test_slixmpp_omemo_and_tui_omemo_both_ways(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount
) -> None:
    """python-omemo → tui-omemo (first message is a key exchange), tui-omemo → python-omemo
    over the session it built, and a second round in each direction."""
    alice = await new_account("alice")
    peer_jid, peer_password = prosody.create_account()
    peer_account = Account(peer_jid, peer_password, alice.profile.parent / "unused")
    await subscribe_both(prosody, alice, peer_account)
    # the CLI publishes its device lists and bundles when it first connects
    first = await runner.run(alice, "listen", "--timeout", "3")
    assert first.code == 0, first.err
    peer = await OmemoPeer.start(prosody, peer_jid, peer_password)
    try:
        peer_device = await peer.device_id()
        await peer.refresh(alice.jid)
        listener = await runner.start(alice, "listen", "--count", "1", "--json", "--timeout", "60")
        try:
            await listener.wait_ready()
            await peer.send(alice.jid, "from python-omemo")
            got = await listener.next_json()
            assert await listener.wait() == 0
        finally:
            await listener.stop()
        assert (got["from"], got["text"], got["omemo"]) == (peer_jid, "from python-omemo", "0.3")
        assert got["device"] == peer_device
        sent = await runner.run(alice, "send", peer_jid, "from tui-omemo", "--omemo", "0.3")
        assert sent.code == 0, sent.err
        answer = await peer.next_message()
        assert (answer.sender, answer.text, answer.namespace) == (
            alice.jid, "from tui-omemo", LEGACY,
        )  # fmt: skip
        # a second round each way: python-omemo's message waits on the server for the CLI
        await peer.send(alice.jid, "second from python-omemo")
        caught_up = await runner.run(alice, "listen", "--count", "1", "--json", "--timeout", "30")
        assert caught_up.code == 0, caught_up.err
        assert json.loads(caught_up.out)["text"] == "second from python-omemo"
        again = await runner.run(alice, "send", peer_jid, "second from tui-omemo", "--omemo", "0.3")
        assert again.code == 0, again.err
        assert (await peer.next_message()).text == "second from tui-omemo"
        assert not peer.errors, peer.errors
    finally:
        await peer.stop()


async def test_echo_answers_slixmpp_omemo(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount
) -> None:
    """`listen --echo` answers a python-omemo message with `echo: <text>` in OMEMO 0.3."""
    bob = await new_account("bob")
    peer_jid, peer_password = prosody.create_account()
    await subscribe_both(prosody, bob, Account(peer_jid, peer_password, bob.profile))
    first = await runner.run(bob, "listen", "--timeout", "3")
    assert first.code == 0, first.err
    peer = await OmemoPeer.start(prosody, peer_jid, peer_password)
    listener = await runner.start(bob, "listen", "--echo", "--count", "1", "--timeout", "60")
    try:
        await listener.wait_ready()
        await peer.refresh(bob.jid)
        await peer.send(bob.jid, "ping")
        echo = await peer.next_message()
        assert (echo.text, echo.namespace) == ("echo: ping", LEGACY)
        assert await listener.wait() == 0
    finally:
        await listener.stop()
        await peer.stop()


async def test_omemo_2_both_ways_through_slixmpp_omemos_message_event(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount
) -> None:
    """`send --omemo 2` reaches a slixmpp-omemo client's `message` handler (the fallback body
    makes slixmpp raise it) and python-omemo decrypts it; a plain slixmpp client on the same
    account sees the fallback body with the EME hint and the XEP-0428 marker; python-omemo's
    OMEMO 2 message (with slixmpp-omemo's fallback body) reaches `listen` decrypted."""
    alice = await new_account("alice")
    peer_jid, peer_password = prosody.create_account()
    await subscribe_both(prosody, alice, Account(peer_jid, peer_password, alice.profile))
    first = await runner.run(alice, "listen", "--timeout", "3")
    assert first.code == 0, first.err
    peer = await OmemoPeer.start(prosody, peer_jid, peer_password)
    plain = await PlainClient.start(prosody, peer_jid, peer_password)
    try:
        await peer.refresh(alice.jid)
        sent = await runner.run(alice, "send", peer_jid, "OMEMO 2 to slixmpp-omemo", "--omemo", "2")
        assert sent.code == 0, sent.err
        got = await peer.next_message()
        assert (got.sender, got.text, got.namespace) == (
            alice.jid,
            "OMEMO 2 to slixmpp-omemo",
            V2,
        ), peer.errors
        hint = await plain.next_message()
        assert hint["body"]
        assert "OMEMO 2 to slixmpp-omemo" not in str(hint)
        eme = hint.xml.find("{urn:xmpp:eme:0}encryption")
        marker = hint.xml.find(FALLBACK_MARKER)
        assert eme is not None
        assert marker is not None
        assert (eme.get("namespace"), marker.get("for")) == (V2, V2)

        await peer.send_v2(alice.jid, "OMEMO 2 from python-omemo")
        heard = await runner.run(alice, "listen", "--count", "1", "--json", "--timeout", "30")
        assert heard.code == 0, heard.err
        line = json.loads(heard.out)
        assert (line["from"], line["text"], line["omemo"]) == (
            peer_jid,
            "OMEMO 2 from python-omemo",
            "2",
        )
        assert not peer.errors, peer.errors
    finally:
        await plain.stop()
        await peer.stop()
