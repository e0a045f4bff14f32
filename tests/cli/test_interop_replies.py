"""XEP-0461 replies with an independent implementation through Prosody (issue #17):
slixmpp-omemo 2.2 (python-omemo) with slixmpp's XEP-0461 stanzas (`omemo_peer.py`).

Our `send --reply-to` reaches its `decrypt_message` with a `<reply>` it reads, naming its
message, and a `<fallback>` range that leaves exactly our text: outside the encryption for
0.3, inside the SCE envelope for OMEMO 2. Its replies show here (`listen --json`) with
`reply_to` naming our message and the quote left out: 0.3 as slixmpp-omemo's users must send
them (its `encrypt_message` keeps only the body, so `<reply>` goes back on the stanza, outside,
as Conversations does); OMEMO 2 in an envelope written by the test (slixmpp-omemo 2.2 has no
SCE, so it cannot put a reply inside one), encrypted by python-omemo."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest

from tests.cli.conftest import Account, CliRunner, omemo_peer_of
from tests.cli.omemo_peer import LEGACY, V2
from tests.prosody import ProsodyServer

pytestmark = [pytest.mark.prosody, pytest.mark.slow]

NewAccount = Callable[[str], Awaitable[Account]]


async def test_replies_both_ways_with_slixmpp_omemo(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount
) -> None:
    alice = await new_account("alice")
    async with omemo_peer_of(prosody, runner, alice) as peer:
        peer_jid = peer.client.boundjid.bare
        asked = await peer.send(alice.jid, "lunch at noon?")
        heard = await runner.run(alice, "listen", "--count", "1", "--json", "--timeout", "30")
        assert heard.code == 0, heard.err
        question = json.loads(heard.out)

        ours: dict[str, str | None] = {}
        for version, namespace in (("0.3", LEGACY), ("2", V2)):
            sent = await runner.run(
                alice, "send", peer_jid, f"yes ({version})", "--omemo", version,
                "--reply-to", str(question["id"]),
            )  # fmt: skip
            assert sent.code == 0, sent.err
            got = await peer.next_message()
            assert (got.namespace, got.reply_to, got.shown) == (
                namespace,
                asked,
                f"yes ({version})",
            )
            assert got.text == f"> lunch at noon?\nyes ({version})"  # what others show
            ours[version] = got.message_id

        assert ours["0.3"] is not None
        assert ours["2"] is not None
        await peer.send(alice.jid, "great", reply=(ours["0.3"], "yes (0.3)"))
        await peer.send_v2(alice.jid, "great (2)", reply=(ours["2"], "yes (2)"))
        heard = await runner.run(alice, "listen", "--count", "2", "--json", "--timeout", "30")
        assert heard.code == 0, heard.err
        lines = [json.loads(line) for line in heard.out.splitlines()]
        assert [(line["text"], line["reply_to"], line["omemo"]) for line in lines] == [
            ("great", ours["0.3"], "0.3"),
            ("great (2)", ours["2"], "2"),
        ]
