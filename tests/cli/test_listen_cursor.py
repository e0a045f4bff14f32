"""`listen` never loses a message: it prints from the archive after a cursor that moves only
once a line was written (subprocesses over Prosody), and `history --after` resumes anywhere."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.cli.conftest import Account, CliRunner, subscribe_both
from tests.prosody import ProsodyServer

pytestmark = [pytest.mark.prosody, pytest.mark.slow]

NewAccount = Callable[[str], Awaitable[Account]]
KILLED = 137


def rows(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def texts(out: str) -> list[str]:
    return [row["text"] for row in rows(out)]


async def _pair(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount
) -> tuple[Account, Account, int]:
    """alice and bob, contacts; bob has published his device (its id is returned)."""
    alice, bob = await new_account("alice"), await new_account("bob")
    await subscribe_both(prosody, alice, bob)
    first = await runner.run(bob, "listen", "--timeout", "2")
    assert first.code == 0, first.err
    found = re.search(r"\(device (\d+)\)", first.err)
    assert found, first.err
    return alice, bob, int(found.group(1))


async def _send(runner: CliRunner, sender: Account, to: Account, *messages: str) -> None:
    for text in messages:
        sent = await runner.run(sender, "send", to.jid, text)
        assert sent.code == 0, sent.err


async def test_messages_another_command_caught_up_are_printed_once_each(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount
) -> None:
    """Two messages wait; bob's `send` catches them up silently. `listen --count 1` then prints
    the first, the next `listen --count 1` the second (not a timeout), a third run nothing;
    `history --after` and `listen --since` resume from any id printed; a message that cannot
    be decrypted is an error object in the stream."""
    alice, bob, device = await _pair(prosody, runner, new_account)
    await _send(runner, alice, bob, "one", "two")
    await _send(runner, bob, alice, "reply")  # catches up "one" and "two" without printing

    first = await runner.run(bob, "listen", "--count", "1", "--timeout", "20", "--json")
    assert (first.code, texts(first.out)) == (0, ["one"]), first.err
    second = await runner.run(bob, "listen", "--count", "1", "--timeout", "20", "--json")
    assert (second.code, texts(second.out)) == (0, ["two"]), second.err
    rest = await runner.run(bob, "listen", "--timeout", "1", "--json")
    assert (rest.code, rest.out) == (0, "")  # bob's own "reply" is not news to him

    one = rows(first.out)[0]["id"]
    after = await runner.run(bob, "history", "--after", str(one), "--json")
    assert after.code == 0, after.err
    assert texts(after.out) == ["two", "reply"]
    assert [row["id"] for row in rows(after.out)] == sorted(row["id"] for row in rows(after.out))
    only = await runner.run(bob, "history", alice.jid, "--after", "0", "--limit", "1")
    assert only.code == 0, only.err
    assert "one" in only.out
    assert "two" not in only.out
    again = await runner.run(
        bob, "listen", "--since", str(one), "--count", "1", "--json", "--timeout", "20"
    )
    assert texts(again.out) == ["two"], again.err

    # a message bob cannot decrypt: an error object with the reason (and no text) in
    # `listen --json` and in `history --json`; the cursor moves past it
    await _send_undecryptable(prosody, alice, (bob, device), rows(first.out)[0]["device"])
    got = await runner.run(bob, "listen", "--timeout", "3", "--json")
    assert got.code == 0, got.err
    [error] = rows(got.out)
    assert (error["type"], error["from"], error["peer"]) == ("error", alice.jid, alice.jid)
    assert error["reason"]
    assert "text" not in error
    assert (await runner.run(bob, "listen", "--timeout", "1", "--json")).out == ""
    archived = await runner.run(bob, "history", "--after", str(one), "--json")
    assert [row["type"] for row in rows(archived.out)] == ["message", "message", "error"]


async def test_kill_between_fetch_and_print_keeps_the_cursor(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount
) -> None:
    """`listen` is killed (-9) after reading a message from the archive and before printing
    it: nothing was printed and the cursor did not move, so the next run prints it. Then:
    named consumers and `--from` keep cursors of their own."""
    alice, bob, _device = await _pair(prosody, runner, new_account)
    await _send(runner, alice, bob, "survives")
    crashed = await runner.run(
        bob, "listen", "--json", "--timeout", "20", TUI_OMEMO_CRASH_AT="listen_before_print"
    )
    assert (crashed.code, crashed.out) == (KILLED, ""), crashed.err
    again = await runner.run(bob, "listen", "--count", "1", "--timeout", "20", "--json")
    assert (again.code, texts(again.out)) == (0, ["survives"]), again.err

    # other consumers keep cursors of their own; --from filters and has its own cursor
    named = await runner.run(bob, "listen", "--name", "bot-a", "--count", "1", "--timeout",
                             "20", "--json")  # fmt: skip
    assert texts(named.out) == ["survives"], named.err
    other = await runner.run(bob, "listen", "--from", "nobody@localhost", "--timeout", "1")
    assert (other.code, other.out) == (0, "")
    mine = await runner.run(bob, "listen", "--from", alice.jid, "--count", "1", "--timeout",
                            "20", "--json")  # fmt: skip
    assert texts(mine.out) == ["survives"], mine.err
    default = await runner.run(bob, "listen", "--timeout", "1", "--json")
    assert (default.code, default.out) == (0, "")


async def _send_undecryptable(
    prosody: ProsodyServer, sender: Account, to: tuple[Account, int], own_device: int
) -> None:
    """An OMEMO 0.3 message from the sender's published device (no key exchange: bob has no
    session with it) for bob's device, sent as raw XML with plain slixmpp."""
    recipient, device = to
    import slixmpp
    from slixmpp.xmlstream import ET

    client = slixmpp.ClientXMPP(sender.jid, sender.password)
    client.enable_direct_tls = False
    client.enable_starttls = False
    client.enable_plaintext = True
    client.plugin["feature_mechanisms"].unencrypted_scram = True
    started = asyncio.get_running_loop().create_future()
    client.add_event_handler("session_start", lambda _e: started.done() or started.set_result(1))
    client.connect(prosody.host, prosody.port)
    await asyncio.wait_for(started, 30)
    message = client.make_message(recipient.jid, mtype="chat")
    encrypted = (
        f"<encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='{own_device}'>"
        f"<key rid='{device}'>AAECAwQFBgcICQoLDA0ODw==</key><iv>AAECAwQFBgcICQoL</iv></header>"
        "<payload>AAECAwQFBgcICQoLDA0ODw==</payload></encrypted>"
    )
    message.append(ET.fromstring(encrypted))
    message.send()
    await asyncio.sleep(0.5)
    client.disconnect()
    await client.disconnected
