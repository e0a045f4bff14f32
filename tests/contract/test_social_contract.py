"""The subscription-request part of the `ChatService` contract (issue 17), asserted alike on
the fake and on the real service over Prosody: a request brings a row marked as asking (also
for someone outside the roster) with a `RosterChanged`; the answer takes the mark away, and a
requester outside the roster whose request was answered without adding has no row any more."""

from __future__ import annotations

import asyncio

import pytest

from tests.contract.conftest import TIMEOUT, Side
from tests.prosody import ProsodyServer
from tui_omemo.service.api import RosterChanged

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def someone_asks(side: Side, request: pytest.FixtureRequest) -> str:
    """A new account asks to see our presence (real side: a plain slixmpp client)."""
    if side.fake is not None:
        jid = "zoe@example.net"
        side.fake.ask_subscription(jid)
        return jid
    import slixmpp

    prosody: ProsodyServer = request.getfixturevalue("prosody")
    jid, password = prosody.create_account()
    client = slixmpp.ClientXMPP(jid, password)
    client.enable_direct_tls = False
    client.enable_starttls = False
    client.enable_plaintext = True
    client.plugin["feature_mechanisms"].unencrypted_scram = True
    started = asyncio.get_running_loop().create_future()
    client.add_event_handler("session_start", lambda _e: started.done() or started.set_result(1))
    client.connect(prosody.host, prosody.port)
    await asyncio.wait_for(started, TIMEOUT)
    client.send_presence_subscription(pto=side.service.own_jid)
    client.disconnect()
    return jid


async def test_a_request_is_marked_until_it_is_answered(
    side: Side, request: pytest.FixtureRequest
) -> None:
    """Asked: a RosterChanged and a `chats` row with `asks_subscription`, not in the roster;
    denied: the row is gone and nothing asks any more."""
    side.drain()
    asker = await someone_asks(side, request)
    event = await side.next_event(RosterChanged, lambda e: e.chat.jid == asker)
    assert (event.chat.asks_subscription, event.chat.in_roster) == (True, False)
    rows = {c.jid: c for c in await side.service.chats()}
    assert rows[asker].asks_subscription
    await side.service.answer_subscription(asker, False, False)
    assert asker not in {c.jid for c in await side.service.chats()}
    assert not [c for c in await side.service.chats() if c.asks_subscription]
