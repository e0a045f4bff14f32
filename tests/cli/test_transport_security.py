"""The issue's repro from the command line: a profile made without `--allow-plaintext-loopback`
meets a server on 127.0.0.1 that strips STARTTLS. Whatever it offers, no `<auth>` reaches it
and `tui-omemo devices --json` exits 1 with one line naming the reason."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import PASSPHRASE, Cli, DictKeyring
from tests.prosody import TLS_SELF_SIGNED, TlsProsody
from tests.xmpp.fake_server import FakeServer, fake_server
from tests.xmpp.test_transport_security import MECHANISM_SETS
from tui_omemo.commands.console import Console
from tui_omemo.commands.profile import ProfileOptions, open_database
from tui_omemo.commands.security import LOGIN_MECHANISM, remember_mechanism, stream_security
from tui_omemo.store import KeyringKeys, open_profile


@pytest.fixture(scope="module")
def stripped() -> Iterator[FakeServer]:
    with fake_server([]) as server:
        yield server


@pytest.fixture(scope="module")
def profile_cli(stripped: FakeServer, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """One profile for alice@localhost at the fake server (made once: the passphrase KDF is
    the slow part)."""
    cli = Cli(tmp_path_factory.mktemp("stripped") / "profile", {"TUI_OMEMO_PASSPHRASE": PASSPHRASE})
    added = cli(
        "account",
        "add",
        "alice@localhost",
        "--server",
        f"127.0.0.1:{stripped.port}",
        "--password-stdin",
        stdin="hunter2-secret\n",
    )
    assert added.code == 0, added.err
    return cli


@pytest.mark.parametrize("mechanisms", MECHANISM_SETS, ids="+".join)
def test_devices_refuses_a_server_without_tls(
    stripped: FakeServer, profile_cli: Cli, mechanisms: list[str]
) -> None:
    stripped.mechanisms = mechanisms
    stripped.received.clear()
    result = profile_cli("devices", "--json")
    assert result.code == 1
    assert result.out == ""
    assert result.err_lines == [
        "tui-omemo: the server offered no TLS; refusing to log in or send anything over plaintext"
    ]
    assert "<auth" not in stripped.text
    assert "hunter2" not in stripped.text


def test_pin_certificate_is_checked_and_stored(tmp_path: Path) -> None:
    """`account add --pin-certificate` refuses what is not a SHA-256 fingerprint (nothing is
    created) and stores a valid one in the AA:BB form, which `account show` prints."""
    cli = Cli(tmp_path / "profile", {"TUI_OMEMO_PASSPHRASE": PASSPHRASE})
    bad = cli("account", "add", "a@example.org", "--pin-certificate", "12:34")
    assert bad.code == 2
    assert "--pin-certificate" in bad.err
    assert not (tmp_path / "profile").exists()
    good = cli("account", "add", "a@example.org", "--pin-certificate", "ab" * 32,
               "--password-stdin", stdin="pw\n")  # fmt: skip
    assert good.code == 0, good.err
    assert stored_settings(cli)["certificate_pin"] == ":".join(["AB"] * 32)
    shown = cli("account", "show", "--json")
    assert json.loads(shown.out)["certificate_pin"] == ":".join(["AB"] * 32)
    assert f"certificate pin: {':'.join(['AB'] * 32)}" in cli("account", "show").out.splitlines()


def stored_settings(cli: Cli) -> dict[str, object]:
    """The profile's settings table, read through the store."""
    console = Console(io.StringIO(), io.StringIO(), io.StringIO(), dict(cli.environ), cli.keyring)
    with (
        open_database(ProfileOptions(str(cli.profile), None), console) as database,
        database.snapshot() as uow,
    ):
        return uow.settings.all()


@pytest.mark.prosody
def test_self_signed_server_refused_then_pinned(prosody_tls: TlsProsody, tmp_path: Path) -> None:
    """Over the real Prosody: a self-signed certificate stops `devices` with one line that
    names it and its SHA-256; `account set --pin-certificate` with that fingerprint lets the
    profile log in, which remembers the SCRAM mechanism it used; removing the pin refuses the
    certificate again."""
    jid, password = prosody_tls.create_account(TLS_SELF_SIGNED)
    pin = prosody_tls.certificates[TLS_SELF_SIGNED].sha256
    server = f"127.0.0.1:{prosody_tls.server.port}"
    env = {"TUI_OMEMO_PASSPHRASE": PASSPHRASE}
    plain = Cli(tmp_path / "plain", env)
    assert plain("account", "add", jid, "--server", server, "--password-stdin",
                 stdin=password + "\n").code == 0  # fmt: skip
    refused = plain("devices", "--json")
    assert refused.code == 1
    assert refused.err_lines == [
        f"tui-omemo: the certificate of {TLS_SELF_SIGNED} is not trusted: self-signed, "
        f"SHA-256 {pin}; if the server's admin confirms this fingerprint, pin it with "
        "`tui-omemo account set --pin-certificate SHA256`"
    ]
    bad = plain("account", "set", "--pin-certificate", "not-a-fingerprint")
    assert bad.code == 2
    assert "certificate_pin" not in stored_settings(plain)
    pinned = plain("account", "set", "--pin-certificate", pin.replace(":", "").lower())
    assert pinned.code == 0, pinned.err
    assert f"certificate pin: {pin}" in pinned.out.splitlines()
    listed = plain("devices", "--json")
    assert listed.code == 0, listed.err
    settings = stored_settings(plain)
    assert settings["certificate_pin"] == pin
    assert settings["login_mechanism"] == "SCRAM-SHA-1"
    removed = plain("account", "set", "--pin-certificate", "")
    assert removed.code == 0, removed.err
    assert "certificate_pin" not in stored_settings(plain)
    assert plain("devices", "--json").code == 1  # the certificate is refused again


def test_login_mechanism_is_only_raised(tmp_path: Path) -> None:
    """The remembered mechanism goes up (SCRAM-SHA-1 → SCRAM-SHA-256, -PLUS counted as its
    hash) and never down; PLAIN pins nothing; the pin reaches the next connection."""
    keys = KeyringKeys(DictKeyring(), service="tui-omemo-test-mechanism")
    with open_profile(tmp_path / "profile", keys) as database:
        for used in ("PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1", "PLAIN"):
            remember_mechanism(database, used)
        with database.snapshot() as uow:
            assert uow.settings.get(LOGIN_MECHANISM) == "SCRAM-SHA-256"
            assert stream_security(uow).pinned_mechanism == "SCRAM-SHA-256"
