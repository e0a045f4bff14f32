"""`tui-omemo --help`, `account add` and `history`: exit codes, messages, the profile made."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from tests.cli.conftest import (
    PASSPHRASE,
    Cli,
    DictKeyring,
    file_digests,
    run_subprocess,
    subprocess_env,
)
from tui_omemo.model import TrustLevel
from tui_omemo.protocol.engine import Engine
from tui_omemo.service.account_setup import UnitOfWorkStateStore
from tui_omemo.store import Direction, KeyringKeys, NewMessage, open_profile

FINGERPRINT = re.compile(r"fingerprint: ([0-9a-f]{8} ){7}[0-9a-f]{8}")


def test_help_lists_the_commands_and_exits_0(cli: Cli) -> None:
    result = cli("--help", profile=False)
    assert result.code == 0
    assert "account" in result.out
    assert "history" in result.out
    assert "TUI_OMEMO_PASSPHRASE" in result.out


def test_unknown_command_is_a_usage_error(cli: Cli) -> None:
    result = cli("frobnicate")
    assert result.code == 2
    assert "invalid choice" in result.err


def test_account_add_creates_profile_and_identity_without_a_server(cli: Cli) -> None:
    """The server named by the JID does not exist; account add still works offline and prints
    the JID, the device id and the fingerprint; the identity is in the database."""
    result = cli("account", "add", "Alice@Nowhere.invalid", "--password-stdin", stdin="pw\n")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "account: alice@nowhere.invalid"
    device_id = int(lines[1].removeprefix("device: "))
    assert 1 <= device_id < 2**31
    assert FINGERPRINT.fullmatch(lines[2])
    keys = KeyringKeys(None)
    with open_profile(cli.profile, keys, PASSPHRASE) as db, db.unit_of_work() as uow:
        account = uow.account.get()
        assert account is not None
        assert account.jid == "alice@nowhere.invalid"
        engine = asyncio.run(
            Engine.create(account.jid, UnitOfWorkStateStore(uow), None, taken_device_ids=())  # type: ignore[arg-type]
        )
    assert engine.device_id == device_id


def test_account_add_keeps_server_password_and_loopback_flag(cli: Cli) -> None:
    result = cli(
        "account",
        "add",
        "bob@localhost",
        "--server",
        "127.0.0.1:5333",
        "--password-stdin",
        "--allow-plaintext-loopback",
        stdin="s3cret\n",
    )
    assert result.code == 0, result.err
    assert "s3cret" not in result.out + result.err
    with open_profile(cli.profile, KeyringKeys(None), PASSPHRASE) as db, db.snapshot() as uow:
        account = uow.account.get()
    assert account is not None
    assert (account.password, account.server_host, account.server_port) == (
        "s3cret",
        "127.0.0.1",
        5333,
    )
    assert account.allow_plaintext_loopback


def test_second_account_add_refuses_and_changes_nothing(cli: Cli) -> None:
    first = cli("account", "add", "alice@localhost", "--password-stdin", stdin="pw\n")
    assert first.code == 0
    before = file_digests(cli.profile)
    second = cli("account", "add", "carol@localhost", "--password-stdin", stdin="pw\n")
    assert second.code == 1
    assert len(second.err_lines) == 1
    assert "already holds the account alice@localhost" in second.err
    assert file_digests(cli.profile) == before


def test_missing_passphrase_without_keyring_exits_2_with_the_hint(cli: Cli) -> None:
    cli.environ.clear()
    result = cli("account", "add", "alice@localhost", "--password-stdin", stdin="pw\n")
    assert result.code == 2
    assert len(result.err_lines) == 1
    assert "TUI_OMEMO_PASSPHRASE" in result.err
    assert "--passphrase-file" in result.err
    assert not cli.profile.exists()


def test_missing_passphrase_for_an_existing_passphrase_profile_exits_2(cli: Cli) -> None:
    assert cli("account", "add", "alice@localhost", "--password-stdin", stdin="pw\n").code == 0
    cli.environ.clear()
    result = cli("history", "bob@localhost")
    assert result.code == 2
    assert "TUI_OMEMO_PASSPHRASE" in result.err


def test_wrong_passphrase_exits_1_with_one_line_and_no_traceback(cli: Cli) -> None:
    assert cli("account", "add", "alice@localhost", "--password-stdin", stdin="pw\n").code == 0
    before = file_digests(cli.profile)
    cli.environ["TUI_OMEMO_PASSPHRASE"] = "not it"
    result = cli("history", "bob@localhost")
    assert result.code == 1
    assert result.err_lines == [result.err_lines[0]]
    assert result.err.startswith("tui-omemo: wrong passphrase")
    assert "not it" not in result.err
    assert file_digests(cli.profile) == before


def test_account_add_without_password_or_terminal_is_a_usage_error(cli: Cli) -> None:
    """No `--password-stdin` and no terminal to ask on: exit 2 and no profile (not a profile
    that can never log in)."""
    result = cli("account", "add", "alice@localhost")
    assert result.code == 2
    assert "--password-stdin" in result.err
    assert not (cli.profile / "tui-omemo.db").exists()


def test_passphrase_file_is_used_and_its_newline_dropped(cli: Cli, tmp_path: Path) -> None:
    cli.environ.clear()
    secret = tmp_path / "pass"
    secret.write_text(PASSPHRASE + "\n")
    result = cli(
        "--passphrase-file", str(secret), "account", "add", "alice@localhost",
        "--password-stdin", stdin="pw\n",
    )  # fmt: skip
    assert result.code == 0, result.err
    # the same passphrase through the environment opens it: the newline was not part of it
    cli.environ["TUI_OMEMO_PASSPHRASE"] = PASSPHRASE
    assert cli("history", "bob@localhost").code == 0


def test_unreadable_passphrase_file_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    result = cli("history", "bob@localhost", "--passphrase-file", str(tmp_path / "missing"))
    assert result.code == 2
    assert "passphrase file" in result.err


def test_plaintext_is_refused_for_a_remote_server(cli: Cli) -> None:
    result = cli("account", "add", "alice@example.org", "--allow-plaintext-loopback")
    assert result.code == 2
    assert "loopback" in result.err
    assert not cli.profile.exists()


@pytest.mark.parametrize("jid", ["alice", "@localhost", "alice@localhost/phone", "a b@c"])
def test_bad_jid_is_a_usage_error(cli: Cli, jid: str) -> None:
    result = cli("account", "add", jid)
    assert result.code == 2
    assert not cli.profile.exists()


def test_history_without_a_profile_fails_clearly(cli: Cli) -> None:
    result = cli("history", "bob@localhost")
    assert result.code == 1
    assert "account add" in result.err
    assert not cli.profile.exists()


def test_history_of_an_empty_archive(cli: Cli) -> None:
    assert cli("account", "add", "alice@localhost", "--password-stdin", stdin="pw\n").code == 0
    text = cli("history", "bob@localhost")
    assert (text.code, text.out) == (0, "")
    assert "no messages" in text.err
    as_json = cli("history", "bob@localhost", "--json")
    assert (as_json.code, as_json.out, as_json.err) == (0, "", "")


def _seed(cli: Cli, bodies: list[tuple[Direction, str]]) -> None:
    with open_profile(cli.profile, KeyringKeys(None), PASSPHRASE) as db, db.unit_of_work() as uow:
        for index, (direction, body) in enumerate(bodies):
            incoming = direction is Direction.IN
            uow.archive.append(
                NewMessage(
                    peer="bob@localhost",
                    direction=direction,
                    sender_bare_jid="bob@localhost" if incoming else "alice@localhost",
                    body=body,
                    timestamp=1_764_000_000_000 + index * 1000,
                    received_at=1_764_000_000_000 + index * 1000,
                    dedupe_keys=(f"k{index}",),
                    sender_device=4242 if incoming else 77,
                    trust=TrustLevel.BLINDLY_TRUSTED,
                    omemo_version="0.3" if index % 2 else "2",
                    stanza_id=f"sid-{index}",
                )
            )


def test_history_json_shape_oldest_first(cli: Cli) -> None:
    assert cli("account", "add", "alice@localhost", "--password-stdin", stdin="pw\n").code == 0
    _seed(cli, [(Direction.IN, "hello"), (Direction.OUT, "hi there"), (Direction.IN, "bye")])
    result = cli("history", "bob@localhost", "--json")
    assert result.code == 0
    rows = [json.loads(line) for line in result.out.splitlines()]
    assert [row["text"] for row in rows] == ["hello", "hi there", "bye"]
    assert rows[0] == {
        "schema": 1,
        "type": "message",
        "id": rows[0]["id"],
        "peer": "bob@localhost",
        "room": None,
        "nick": None,
        "direction": "in",
        "from": "bob@localhost",
        "device": 4242,
        "text": "hello",
        "encrypted": True,
        "omemo": "2",
        "trust": "blind",
        "stanza_id": "sid-0",
        "time": "2025-11-24T16:00:00.000+00:00",
        "file": None,  # issue 18: a key added within schema 1 (null for a text message)
        "replaces": None,  # issue 17: keys added within schema 1 (a correction's original id)
        "edited": False,
        "delivery": None,  # issue 17: a key added within schema 1 (null for incoming)
        "reply_to": None,  # issue 17: a key added within schema 1 (null but for a reply)
        "message_id": None,  # issue 17: the XMPP id it came with (what a reply_to names)
    }
    assert rows[1]["omemo"] == "0.3"
    assert rows[1]["direction"] == "out"
    assert rows[1]["delivery"] == "sent"  # issue 17: archived, not in the outbox


def test_history_limit_keeps_the_newest(cli: Cli) -> None:
    assert cli("account", "add", "alice@localhost", "--password-stdin", stdin="pw\n").code == 0
    _seed(cli, [(Direction.IN, f"m{i}") for i in range(5)])
    result = cli("history", "bob@localhost", "--json", "--limit", "2")
    assert [json.loads(line)["text"] for line in result.out.splitlines()] == ["m3", "m4"]
    assert cli("history", "bob@localhost", "--limit", "0").code == 2


def test_history_search(cli: Cli) -> None:
    assert cli("account", "add", "alice@localhost", "--password-stdin", stdin="pw\n").code == 0
    _seed(
        cli,
        [(Direction.IN, "the red fox"), (Direction.OUT, "a blue bird"), (Direction.IN, "red sky")],
    )
    result = cli("history", "bob@localhost", "--json", "--search", "red")
    assert [json.loads(line)["text"] for line in result.out.splitlines()] == [
        "the red fox",
        "red sky",
    ]


def test_history_text_neutralises_control_characters(cli: Cli) -> None:
    """A peer's escape sequences and bidi overrides are not written to the terminal."""
    assert cli("account", "add", "alice@localhost", "--password-stdin", stdin="pw\n").code == 0
    _seed(cli, [(Direction.IN, "evil\x1b[2J\u202etext\nsecond line")])
    result = cli("history", "bob@localhost")
    assert result.code == 0
    assert "\x1b" not in result.out
    assert "\u202e" not in result.out
    assert result.out.count("\n") == 1
    assert "[OMEMO 2, blindly_trusted]" in result.out


def test_dict_keyring_profile_needs_no_passphrase(cli: Cli) -> None:
    """With a working keyring and no passphrase, the key goes to the keyring."""
    backend = DictKeyring()
    cli.keyring = lambda: backend
    cli.environ.clear()
    assert cli("account", "add", "alice@localhost", "--password-stdin", stdin="pw\n").code == 0
    assert len(backend.entries) == 1
    assert cli("history", "bob@localhost").code == 0
    backend.entries.clear()
    missing = cli("history", "bob@localhost")
    assert missing.code == 1
    assert "keyring" in missing.err


def test_subprocess_exit_codes_and_no_traceback(tmp_path: Path) -> None:
    """The real entry point: 0 on success, 2 without a passphrase, 1 for a wrong one, never a
    traceback."""
    profile = str(tmp_path / "p")
    ok = run_subprocess(
        "--profile",
        profile,
        "account",
        "add",
        "a@localhost",
        "--password-stdin",
        env=subprocess_env(TUI_OMEMO_PASSPHRASE=PASSPHRASE),
        stdin="pw\n",
    )
    assert ok.returncode == 0, ok.stderr
    missing = run_subprocess("--profile", profile, "history", "b@localhost", env=subprocess_env())
    assert missing.returncode == 2
    wrong = run_subprocess(
        "--profile",
        profile,
        "history",
        "b@localhost",
        env=subprocess_env(TUI_OMEMO_PASSPHRASE="nope"),
    )
    assert wrong.returncode == 1
    for result in (missing, wrong):
        assert "Traceback" not in result.stderr
        assert len(result.stderr.splitlines()) == 1


def test_no_command_and_open_need_a_terminal(cli: Cli) -> None:
    """Without a terminal the app is not started: exit 2 and a hint to use the commands."""
    assert cli("account", "add", "alice@localhost", "--password-stdin", stdin="pw\n").code == 0
    for args in ((), ("open", "bob@localhost")):
        result = cli(*args)
        assert result.code == 2
        assert "needs a terminal" in result.err


def test_every_command_is_in_the_help(cli: Cli) -> None:
    result = cli("--help", profile=False)
    for command in (
        "account",
        "history",
        "send",
        "listen",
        "devices",
        "trust",
        "verify-uri",
        "settings",
        "open",
    ):
        assert command in result.out


def test_send_and_listen_usage_errors_exit_2(cli: Cli) -> None:
    assert cli("account", "add", "alice@localhost", "--password-stdin", stdin="pw\n").code == 0
    assert cli("send", "bob@localhost", "hi", "--omemo", "3").code == 2
    assert cli("send", "bob@localhost", "hi", "--timeout", "0").code == 2
    assert cli("listen", "--count", "0").code == 2
    assert cli("trust", "bob@localhost", "1").code == 2  # no decision given


def test_send_to_an_unreachable_server_is_one_line_exit_5(cli: Cli) -> None:
    """The account's server does not answer: one line, exit 5 (unreachable), no traceback."""
    result = cli(
        "account", "add", "alice@localhost", "--server", "127.0.0.1:9",
        "--password-stdin", "--allow-plaintext-loopback", stdin="pw\n",
    )  # fmt: skip
    assert result.code == 0
    sent = cli("send", "bob@localhost", "hi", "--timeout", "20")
    assert sent.code == 5
    assert len(sent.err_lines) == 1
    assert "Traceback" not in sent.err


def test_profile_directory_comes_from_tui_omemo_home(cli: Cli, tmp_path: Path) -> None:
    """Without --profile the profile lives in $TUI_OMEMO_HOME; --profile wins over it."""
    home = tmp_path / "home"
    cli.environ["TUI_OMEMO_HOME"] = str(home)
    added = cli(
        "account", "add", "alice@localhost", "--password-stdin", stdin="pw\n", profile=False
    )
    assert added.code == 0
    assert (home / "tui-omemo.db").exists()
    assert cli("history", "bob@localhost", profile=False).code == 0
    assert not cli.profile.exists()
    assert cli("account", "add", "carol@localhost", "--password-stdin", stdin="pw\n").code == 0
    assert (cli.profile / "tui-omemo.db").exists()
