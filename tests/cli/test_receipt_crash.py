"""Issue 17: a delivery receipt means the message is stored. `listen` killed (kill -9, the
`after_decrypt` crash point) between the decryption of a message and the commit of its unit of
work sends no receipt: the sender still sees it "sent". After a restart the message is
archived from the inbox, then (only then) the receipt goes out: "received"."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest

from tests.cli.conftest import Account, CliRunner, subscribe_both
from tests.prosody import ProsodyServer
from tests.service.conftest import Peer, PeerFactory, delivery, make_peer  # noqa: F401 (fixture)
from tui_omemo.service.api import Delivery, MessageDelivered

pytestmark = [pytest.mark.prosody, pytest.mark.slow]

NewAccount = Callable[[str], Awaitable[Account]]
KILLED = 137


async def test_no_receipt_for_a_message_killed_before_its_commit(
    prosody: ProsodyServer,
    runner: CliRunner,
    new_account: NewAccount,
    make_peer: PeerFactory,  # noqa: F811 (the fixture imported above)
) -> None:
    bob = await new_account("bob")
    a_jid, a_password = prosody.create_account()
    await subscribe_both(prosody, bob, Account(a_jid, a_password, bob.profile.parent / "a"))
    assert (await runner.run(bob, "listen", "--timeout", "3")).code == 0  # his devices
    alice: Peer = await make_peer((a_jid, a_password))
    report = await alice.service.send(bob.jid, "store me first")
    assert report.archive_id is not None
    await alice.service.confirm_sent(15)

    crashed = await runner.run(bob, "listen", "--timeout", "30", TUI_OMEMO_CRASH_AT="after_decrypt")
    assert crashed.code == KILLED, crashed.err
    await asyncio.sleep(1)  # what a receipt sent before the crash would have needed to arrive
    assert await delivery(alice, bob.jid, report.archive_id) is Delivery.SENT
    marks = [e for e in alice.drain_events() if isinstance(e, MessageDelivered)]
    assert [e.delivery for e in marks if e.delivery is not Delivery.SENT] == []

    restarted = await runner.run(bob, "listen", "--timeout", "3")
    assert restarted.code == 0, restarted.err
    event = await alice.next_event(MessageDelivered)
    assert (event.archive_id, event.delivery) == (report.archive_id, Delivery.RECEIVED)
    history = await runner.run(bob, "history", alice.jid, "--json")
    assert [json.loads(line)["text"] for line in history.out.splitlines()] == ["store me first"]
