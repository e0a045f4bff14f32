"""XEP-0308 corrections with an independent implementation through Prosody (issue #17):
slixmpp-omemo 2.2 (python-omemo) with slixmpp's XEP-0308 stanza. Its `encrypt_message`
encrypts only the body (OMEMO 0.3), so its users put `<replace>` on the encrypted stanza, as
Conversations does: tui-omemo shows that as an edit. Our corrections reach its
`decrypt_message` with the `<replace>` where each version keeps it: outside for 0.3, inside the
SCE envelope for OMEMO 2 (which slixmpp-omemo leaves to its users; see `omemo_peer.py`)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest

from tests.cli.conftest import Account, CliRunner, omemo_peer_of
from tests.cli.omemo_peer import LEGACY, V2
from tests.prosody import ProsodyServer

pytestmark = [pytest.mark.prosody, pytest.mark.slow]

NewAccount = Callable[[str], Awaitable[Account]]


async def test_corrections_both_ways_with_slixmpp_omemo(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount
) -> None:
    alice = await new_account("alice")
    async with omemo_peer_of(prosody, runner, alice) as peer:
        peer_jid = peer.client.boundjid.bare
        typo = await peer.send(alice.jid, "teh plan")
        await peer.send(alice.jid, "the plan", replaces=typo)
        heard = await runner.run(alice, "listen", "--count", "2", "--json", "--timeout", "30")
        assert heard.code == 0, heard.err
        lines = [json.loads(line) for line in heard.out.splitlines()]
        assert [(line["text"], line["replaces"]) for line in lines] == [
            ("teh plan", None),
            ("the plan", typo),
        ]
        history = await runner.run(alice, "history", peer_jid, "--json")
        rows = [json.loads(line) for line in history.out.splitlines()]
        assert [(row["text"], row["edited"]) for row in rows] == [("the plan", True)]

        for version, namespace in (("0.3", LEGACY), ("2", V2)):
            sent = await runner.run(
                alice, "send", peer_jid, f"at 6 ({version})", "--omemo", version
            )
            assert sent.code == 0, sent.err
            original = await peer.next_message()
            fixed = await runner.run(
                alice, "send", peer_jid, f"at 7 ({version})", "--omemo", version, "--correct-last"
            )
            assert fixed.code == 0, fixed.err
            correction = await peer.next_message()
            assert (correction.text, correction.namespace) == (f"at 7 ({version})", namespace)
            assert original.message_id is not None
            assert correction.replaces == original.message_id
