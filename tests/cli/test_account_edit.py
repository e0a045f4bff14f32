"""`account set` and `account show`: change the login of an existing profile, keep everything else.

The offline tests run the CLI in-process over a real SQLCipher profile; the last one runs it as
subprocesses against the Prosody fixture: a profile whose password is wrong cannot log in,
`account set --password-stdin` repairs it, and the identity, the trust decisions and the history
are the ones from before.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest

from tests.cli.conftest import PASSPHRASE, Account, Cli, CliRunner, file_digests, subscribe_both
from tests.prosody import ProsodyServer
from tui_omemo.protocol.identity import IDENTITY_KEY
from tui_omemo.store import KeyringKeys, open_profile

NewAccount = Callable[[str], Awaitable[Account]]


def identity_row(cli: Cli) -> str:
    """The stored OMEMO identity (device id and seed), exactly as written."""
    with open_profile(cli.profile, KeyringKeys(None), PASSPHRASE) as db, db.snapshot() as uow:
        record = uow.state.load(IDENTITY_KEY)
    assert record is not None
    return record.value


def test_account_show_prints_the_account_and_never_the_password(cli: Cli) -> None:
    """Text and JSON name the JID, this device, its fingerprint, label, server and the
    plaintext switch, say whether a password is stored, and never print it."""
    added = cli(
        "account", "add", "alice@localhost", "--server", "127.0.0.1:5333",
        "--password-stdin", "--allow-plaintext-loopback", stdin="s3cret-pw\n",
    )  # fmt: skip
    assert added.code == 0, added.err
    text = cli("account", "show")
    assert text.code == 0, text.err
    assert text.out.splitlines()[:3] == added.out.splitlines()  # account, device, fingerprint
    assert "server: 127.0.0.1:5333" in text.out
    shown = cli("account", "show", "--json")
    assert shown.code == 0, shown.err
    info = json.loads(shown.out)
    assert info == {
        "schema": 1,
        "type": "account",
        "jid": "alice@localhost",
        "device": int(added.out.splitlines()[1].removeprefix("device: ")),
        "fingerprint": added.out.splitlines()[2].removeprefix("fingerprint: "),
        "label": None,
        "server": "127.0.0.1:5333",
        "allow_plaintext_loopback": True,
        "password_stored": True,
        "certificate_pin": None,
        "other_devices": [],
    }
    assert "s3cret-pw" not in text.out + text.err + shown.out + shown.err


def test_account_set_changes_the_login_and_keeps_the_identity(cli: Cli) -> None:
    """Password, server, the plaintext switch and the label change; the identity row is
    byte-identical and the device id and fingerprint are the same."""
    assert cli("account", "add", "alice@localhost", "--password-stdin", stdin="old\n").code == 0
    before = json.loads(cli("account", "show", "--json").out)
    identity = identity_row(cli)
    changed = cli(
        "account", "set", "--password-stdin", "--server", "[::1]:5299",
        "--allow-plaintext-loopback", "--label", "work laptop", stdin="new pw\n",
    )  # fmt: skip
    assert changed.code == 0, changed.err
    assert "label: work laptop" in changed.out
    assert "new pw" not in changed.out + changed.err
    after = json.loads(cli("account", "show", "--json").out)
    assert (after["device"], after["fingerprint"]) == (before["device"], before["fingerprint"])
    assert after["server"] == "[::1]:5299"
    assert after["allow_plaintext_loopback"]
    assert after["label"] == "work laptop"
    assert identity_row(cli) == identity
    with open_profile(cli.profile, KeyringKeys(None), PASSPHRASE) as db, db.snapshot() as uow:
        account = uow.account.get()
    assert account is not None
    assert (account.password, account.server_host, account.server_port) == ("new pw", "::1", 5299)
    back = cli("account", "set", "--server", "", "--no-plaintext-loopback", "--label", "")
    assert back.code == 0, back.err
    again = json.loads(cli("account", "show", "--json").out)
    assert (again["server"], again["allow_plaintext_loopback"], again["label"]) == (
        None,
        False,
        None,
    )


@pytest.mark.parametrize(
    ("args", "stdin", "words"),
    [
        ((), "", "nothing to change"),
        (("--password-stdin",), "", "no password on standard input"),
        (("--server", "example.org:0"), "", "the port must be a number"),
        (("--server", "example.org", "--label", "x"), "", "only allowed for a loopback server"),
        (("--label", "two\nlines"), "", "one line"),
        (("--allow-plaintext-loopback", "--no-plaintext-loopback"), "", "not allowed with"),
    ],
)
def test_account_set_refusals_exit_2_and_change_nothing(
    cli: Cli, args: tuple[str, ...], stdin: str, words: str
) -> None:
    """A bad or empty change is a usage error with one line, and no file changes."""
    added = cli(
        "account", "add", "alice@localhost", "--allow-plaintext-loopback",
        "--password-stdin", stdin="pw\n",
    )  # fmt: skip
    assert added.code == 0, added.err
    before = file_digests(cli.profile)
    result = cli("account", "set", *args, stdin=stdin)
    assert result.code == 2
    assert words in result.err
    assert file_digests(cli.profile) == before


def test_account_set_and_show_without_a_profile_exit_1(cli: Cli) -> None:
    for args in (("show",), ("set", "--label", "x")):
        result = cli("account", *args)
        assert result.code == 1
        assert len(result.err_lines) == 1
        assert "no profile" in result.err


@pytest.mark.prosody
@pytest.mark.slow
async def test_a_wrong_password_is_repaired_with_account_set_keeping_keys_trust_history(
    prosody: ProsodyServer, runner: CliRunner, new_account: NewAccount
) -> None:
    """Alice talks to Bob, then her stored password goes wrong (as when it is changed on the
    server): `send` fails with one line. `account set --password-stdin` with the right one
    repairs the profile: `devices` and `send` work with the same device, fingerprint and
    trust decision, and the history holds the messages from before and after. (The commands
    that need no server run in-process.)"""
    alice, bob = await new_account("alice"), await new_account("bob")
    offline = Cli(alice.profile, {"TUI_OMEMO_PASSPHRASE": PASSPHRASE})
    await subscribe_both(prosody, alice, bob)
    assert (await runner.run(bob, "listen", "--timeout", "1")).code == 0  # publishes
    first = await runner.run(alice, "send", bob.jid, "before")
    assert first.code == 0, first.err
    trust = await runner.run(alice, "devices", bob.jid, "--json")
    assert trust.code == 0, trust.err
    shown = offline("account", "show", "--json").out

    assert offline("account", "set", "--password-stdin", stdin="wrong\n").code == 0
    refused = await runner.run(alice, "send", bob.jid, "lost?")
    assert refused.code == 4  # the login was refused
    assert refused.err.strip() == (
        f"tui-omemo: the server refused the login for {alice.jid}: it refused the password"
    )

    fixed = offline("account", "set", "--password-stdin", stdin=alice.password + "\n")
    assert fixed.code == 0, fixed.err
    devices = await runner.run(alice, "devices", bob.jid, "--json")
    assert devices.code == 0, devices.err
    assert devices.out == trust.out  # same device, fingerprint and trust decision
    second = await runner.run(alice, "send", bob.jid, "after")
    assert second.code == 0, second.err
    assert offline("account", "show", "--json").out == shown
    history = offline("history", bob.jid, "--json")
    assert [json.loads(line)["text"] for line in history.out.splitlines()] == ["before", "after"]
