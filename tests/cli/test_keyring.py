"""`account add` and `history` with the real Secret Service (gnome-keyring in dbus-run-session)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import keyring.errors
import pytest

from tests.cli.conftest import Cli
from tui_omemo.commands.console import default_keyring
from tui_omemo.store import KeyringKeys

pytestmark = pytest.mark.keyring


@pytest.fixture
def keyring_cli(tmp_path: Path) -> Iterator[Cli]:
    """A CLI on the real platform keyring (`keyring.get_keyring()`) and no passphrase; the
    profile's keyring entry is deleted afterwards."""
    if not os.environ.get("TUI_OMEMO_TEST_SECRET_SERVICE"):
        pytest.skip("needs TUI_OMEMO_TEST_SECRET_SERVICE (run under scripts/with-keyring.sh)")
    _wait_for_secret_service()
    cli = Cli(tmp_path / "profile", {}, default_keyring)
    yield cli
    with contextlib.suppress(keyring.errors.PasswordDeleteError):
        KeyringKeys(default_keyring()).delete(cli.profile)


def test_account_add_keeps_the_key_in_the_secret_service(keyring_cli: Cli) -> None:
    result = keyring_cli("account", "add", "alice@localhost")
    assert result.code == 0, result.err
    key = KeyringKeys(default_keyring()).load(keyring_cli.profile)
    assert key is not None
    for path in keyring_cli.profile.iterdir():
        assert key.material.hex().encode() not in path.read_bytes()
    assert keyring_cli("history", "bob@localhost").code == 0


def test_missing_secret_service_entry_is_one_line_exit_1(keyring_cli: Cli) -> None:
    assert keyring_cli("account", "add", "alice@localhost").code == 0
    KeyringKeys(default_keyring()).delete(keyring_cli.profile)
    result = keyring_cli("history", "bob@localhost")
    assert result.code == 1
    assert len(result.err_lines) == 1
    assert "keyring" in result.err


def _wait_for_secret_service(attempts: int = 10) -> None:
    """The daemon may still be starting (or busy) when the first test asks: try a throwaway
    entry until it answers, so a slow start is not mistaken for a missing keyring."""
    backend = default_keyring()
    assert backend is not None
    for _ in range(attempts):
        try:
            backend.set_password("tui-omemo-test-probe", "probe", "1")
            backend.delete_password("tui-omemo-test-probe", "probe")
            return
        except keyring.errors.KeyringError:
            time.sleep(0.5)
    pytest.fail("the Secret Service does not answer")
