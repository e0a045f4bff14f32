"""`devices`, `trust` and `verify-uri` against the real Prosody."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest

from tests.cli.conftest import Account, CliRunner, subscribe_both
from tests.prosody import ProsodyServer

pytestmark = [pytest.mark.prosody, pytest.mark.slow]

NewAccount = Callable[[str], Awaitable[Account]]


async def test_devices_trust_and_verify_uri(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount
) -> None:
    """Bob's device shows up blindly trusted (BTBV) with the fingerprint `account add`
    printed; `trust --distrust` then keeps it from getting keys; a URI verifies it."""
    alice, bob = await new_account("alice"), await new_account("bob")
    await subscribe_both(prosody, alice, bob)
    assert (await runner.run(bob, "listen", "--timeout", "2")).code == 0  # publishes

    listed = await runner.run(alice, "devices", bob.jid, "--json")
    assert listed.code == 0, listed.err
    [device] = [json.loads(line) for line in listed.out.splitlines()]
    assert device["jid"] == bob.jid
    assert device["trust"] == "blind"
    assert sorted(device["versions"]) == ["0.3", "2"]
    own = await runner.run(bob, "devices", "--json")
    [bobs_own] = [
        json.loads(line) for line in own.out.splitlines() if '"this_device": true' in line
    ]
    assert bobs_own["fingerprint"] == device["fingerprint"]

    distrust = await runner.run(alice, "trust", bob.jid, str(device["device"]), "--distrust")
    assert distrust.code == 0, distrust.err
    refused = await runner.run(alice, "send", bob.jid, "secret")
    assert refused.code == 3  # no device can receive it
    assert f"skipped {bob.jid} device {device['device']}: distrusted device" in refused.err

    unknown = await runner.run(alice, "trust", bob.jid, "12345", "--verify")
    assert unknown.code == 1
    assert "unknown" in unknown.err

    hex64 = device["fingerprint"].replace(" ", "")
    uri = f"xmpp:{bob.jid}?omemo-sid-{device['device']}={hex64}"
    verified = await runner.run(alice, "verify-uri", uri)
    assert verified.code == 0, verified.err
    assert "verified now (was distrusted)" in verified.out
    assert "1 device(s)" in verified.out
    sent = await runner.run(alice, "send", bob.jid, "now it may")
    assert sent.code == 0, sent.err

    bad = await runner.run(alice, "verify-uri", "https://example.org")
    assert bad.code == 2
