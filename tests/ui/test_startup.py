"""The composition root's start-up callbacks (`commands/app.py` `Startup`), without a server.

`Startup.setup` creates the profile the way `account add` does, `Startup.unlock` tries a typed
passphrase, `first_screen` picks what the app asks first, and `connects_to_loopback` decides
when the first-run form offers plaintext. What they do with a server is in
test_pilot_prosody.py.
"""

from __future__ import annotations

import dataclasses
import io
import socket
from pathlib import Path

import pytest

from tests.cli.conftest import DictKeyring
from tests.store.conftest import BrokenKeyring
from tui_omemo.commands import app as app_module
from tui_omemo.commands import runtime
from tui_omemo.commands.app import (
    FirstScreen,
    Startup,
    connects_to_loopback,
    first_screen,
    login_failure,
)
from tui_omemo.commands.console import CommandError, Console, UsageError
from tui_omemo.commands.profile import ProfileOptions, open_database
from tui_omemo.commands.runtime import read_account
from tui_omemo.store import Account, Database, StoreError
from tui_omemo.ui.app import PassphraseWanted
from tui_omemo.ui.screens.account import NewAccount
from tui_omemo.xmpp.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    InsecureConnectionRefused,
    TransportError,
)


def startup_in(directory: Path, backend: object) -> Startup:
    console = Console(io.StringIO(), io.StringIO(), io.StringIO(), {}, lambda: backend)  # type: ignore[arg-type,return-value]
    return Startup(ProfileOptions(str(directory), None), console)


async def test_setup_asks_for_a_passphrase_when_the_keyring_fails(tmp_path: Path) -> None:
    """A keyring that looks usable but keeps nothing: setup raises PassphraseWanted and leaves
    no database; with the passphrase typed, the profile is made and the next start unlocks."""
    startup = startup_in(tmp_path / "profile", BrokenKeyring())
    account = NewAccount("alice@localhost", "secret", "127.0.0.1:5222", True)
    assert first_screen(startup.options, startup.console) is FirstScreen.SETUP
    assert not startup.ask_passphrase()
    with pytest.raises(PassphraseWanted, match="keyring"):
        await startup.setup(account)
    assert not (tmp_path / "profile" / "tui-omemo.db").exists()
    await startup.setup(dataclasses.replace(account, passphrase="kiwi-9"))
    restart = startup_in(tmp_path / "profile", BrokenKeyring())
    assert first_screen(restart.options, restart.console) is FirstScreen.UNLOCK
    await restart.unlock("kiwi-9")
    assert first_screen(restart.options, restart.console) is FirstScreen.CONNECT
    await restart.close()


async def test_unlock_opens_the_profile_once_for_connect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong passphrase keeps nothing open; the right one opens the profile, and `connect`
    hands that very database to the service instead of opening it again. A failed login
    closes it, so that the retry (or another process) can open the profile."""
    setup = startup_in(tmp_path / "profile", BrokenKeyring())
    port = unused_port()
    account = NewAccount("alice@localhost", "secret", f"127.0.0.1:{port}", True, "kiwi-9")
    await setup.setup(account)
    opened: list[str | None] = []

    def counting(options: ProfileOptions, console: Console) -> Database:
        opened.append(options.typed_passphrase)
        return open_database(options, console)

    monkeypatch.setattr(app_module, "open_database", counting)
    monkeypatch.setattr(runtime, "open_database", counting)
    startup = startup_in(tmp_path / "profile", BrokenKeyring())
    with pytest.raises(StoreError):
        await startup.unlock("wrong")
    assert startup.database is None
    await startup.unlock("kiwi-9")
    assert startup.database is not None
    with pytest.raises(TransportError):
        await startup.connect(lambda _step: None)
    assert opened == ["wrong", "kiwi-9"]
    assert startup.database is None
    await startup.close()
    with open_database(startup.options, startup.console) as database:
        assert read_account(database).jid == "alice@localhost"


def unused_port() -> int:
    """A loopback TCP port nobody listens on (bound once, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_setup_again_corrects_the_account_it_created(tmp_path: Path) -> None:
    """After a failed login the form is sent again: the same JID gets the new password and
    server; another JID is refused (the profile holds one account)."""
    startup = startup_in(tmp_path / "profile", DictKeyring())
    await startup.setup(NewAccount("alice@localhost", "wrong", None))
    await startup.setup(NewAccount("alice@localhost", "right", "127.0.0.1:5299", True))
    with open_database(startup.options, startup.console) as database:
        assert read_account(database) == Account(
            "alice@localhost", "right", "127.0.0.1", 5299, True, read_account(database).created_at
        )
    with pytest.raises(CommandError, match="already holds"):
        await startup.setup(NewAccount("bob@localhost", "right", None))


async def test_setup_refuses_plaintext_for_a_remote_server(tmp_path: Path) -> None:
    """The `account add` rule: plaintext only to this machine; nothing is created."""
    startup = startup_in(tmp_path / "profile", DictKeyring())
    with pytest.raises(UsageError, match="loopback"):
        await startup.setup(NewAccount("alice@example.org", "pw", "xmpp.example.org", True))
    assert not (tmp_path / "profile").exists()


@pytest.mark.parametrize(
    ("jid", "server", "loopback"),
    [
        ("alice@localhost", None, True),
        ("alice@example.org", "127.0.0.1:5222", True),
        ("alice@example.org", "[::1]:5222", True),
        ("alice@example.org", None, False),
        ("alice@localhost", "xmpp.example.org", False),
        ("alice@localhost", "127.0.0.1:99999", False),
    ],
)
def test_plaintext_box_follows_the_server(jid: str, server: str | None, loopback: bool) -> None:
    """The first-run form offers plaintext exactly when the account connects to loopback."""
    assert connects_to_loopback(jid, server) is loopback


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (AuthenticationFailed("the server refused the login for a@b"), "Is the password right"),
        (ConnectionFailed("cannot reach b:5222 (Connection refused)"), "server address right"),
        (InsecureConnectionRefused("the server offered no TLS"), "offered no TLS."),
    ],
)
def test_a_failed_login_is_said_in_words(error: TransportError, words: str) -> None:
    """What the app shows after a failed login names what failed and what to check."""
    text = login_failure(error)
    assert text.startswith(f"Login failed: {error}")
    assert words in text
