"""Reconnect mid-conversation, both OMEMO versions: Bob's TCP connection dies, Alice keeps
writing, and once Bob is back every message arrives exactly once and the chat goes on both
ways. Once with XEP-0198 resumption (the server kept Bob's stream), once with a fresh session
(the service sends presence again and catches up from MAM; offline delivery and the archive
both carry the messages, and dedupe keeps one of each).

Bob's reconnect attempts wait behind a `Gate` until Alice's messages are on the server, so
"while away" is a state, not a race; every wait is on an event.
"""

from __future__ import annotations

import pytest

from tests.relay import Gate
from tests.service.conftest import (
    TIMEOUT,
    PeerFactory,
    connection_change,
    cut,
    exchange,
    use_version,
)
from tui_omemo.model import Namespace
from tui_omemo.service.ports import LINK_LOST, LINK_ONLINE, LINK_RESUMED

pytestmark = pytest.mark.prosody


@pytest.mark.parametrize("resume", [True, False], ids=["resumed", "fresh-session"])
@pytest.mark.parametrize("namespace", [Namespace.LEGACY, Namespace.V2])
async def test_messages_sent_while_away_arrive_once_after_reconnect(
    make_peer: PeerFactory, namespace: Namespace, resume: bool
) -> None:
    gate = Gate()
    alice = await make_peer()
    bob = await make_peer(resume=resume, pause=gate)
    await use_version(namespace, alice, bob)
    await exchange(alice, bob, "before")

    cut(bob)
    lost = await connection_change(bob)
    assert (lost.connected, lost.detail) == (False, LINK_LOST)
    away = ["while away 1", "while away 2"]
    for text in away:
        await alice.service.send(bob.jid, text)
    await alice.xmpp.ping(TIMEOUT)  # the server has both
    gate.open()
    back = await connection_change(bob)
    assert (back.connected, back.detail) == (True, LINK_RESUMED if resume else LINK_ONLINE)

    got = [(await bob.next_message()).message.body for _ in away]
    assert got == away
    await exchange(alice, bob, "after")  # Bob's next message: nothing came twice before it
    await bob.service.wait_idle()
    history = [m.body for m in (await bob.service.history(alice.jid, None, 50)).messages]
    # each exactly once (order aside: a delay stamp has whole seconds, a live one ms)
    assert sorted(history) == sorted(["before", "before, back", *away, "after", "after, back"])
