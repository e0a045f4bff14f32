"""Exit statuses scripts can act on: `--help` lists them, and each class has its own (the
no-device, unreachable and queued ones are pinned where those cases are tested:
test_send_listen, test_connection, test_send_unconfirmed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import PASSPHRASE, Account, Cli, CliRunner
from tests.prosody import ProsodyServer
from tui_omemo.commands import exits
from tui_omemo.store import KeyringKeys, open_profile


def test_help_lists_every_exit_status(cli: Cli) -> None:
    text = " ".join(cli("--help").out.split())
    for code, meaning in exits.TABLE:
        assert f"{code} {meaning}" in text
    assert len({code for code, _meaning in exits.TABLE}) == len(exits.TABLE)


def test_version(cli: Cli) -> None:
    result = cli("--version", profile=False)
    assert result.code == 0
    assert result.out.startswith("tui-omemo ")


def test_a_profile_open_elsewhere_is_busy(cli: Cli) -> None:
    """Another process (here: this test) holds the profile: status 7, one line."""
    added = cli("account", "add", "alice@localhost", "--password-stdin", stdin="pw\n")
    assert added.code == 0, added.err
    with open_profile(cli.profile, KeyringKeys(None), PASSPHRASE):
        busy = cli("history", "bob@localhost")
    assert busy.code == exits.BUSY == 7
    assert len(busy.err_lines) == 1


@pytest.mark.prosody
async def test_a_refused_login_is_status_4(
    prosody: ProsodyServer, runner: CliRunner, tmp_path: Path
) -> None:
    jid, _password = prosody.create_account()
    account = Account(jid, "not the password", tmp_path / "wrong")
    added = await runner.run(
        account, "account", "add", jid, "--server", f"{prosody.host}:{prosody.port}",
        "--password-stdin", "--allow-plaintext-loopback", stdin="not the password\n",
    )  # fmt: skip
    assert added.code == 0, added.err
    refused = await runner.run(account, "send", "bob@localhost", "hi", "--timeout", "30")
    assert refused.code == exits.AUTH_REFUSED == 4, refused.err
    assert len(refused.err_lines) == 1


@pytest.mark.parametrize(
    "command",
    ["", "account add", "history", "send", "listen", "devices", "trust", "verify-uri",
     "settings", "open", "muc", "muc join", "muc send", "muc members", "muc leave"],
)  # fmt: skip
def test_every_help_has_examples(cli: Cli, command: str) -> None:
    shown = cli(*command.split(), "--help", profile=False)
    assert shown.code == 0
    assert "\nexamples:\n  tui-omemo " in shown.out
