"""`account add` and `history` with the real Secret Service (gnome-keyring in dbus-run-session).

In-process tests hand the CLI the Secret Service backend itself: inside a test process other
modules may have defined keyring backends (any `keyring.backend.KeyringBackend` subclass
registers itself), and `keyring.get_keyring()` would chain them in. The subprocess test runs the
real entry point, where `keyring.get_keyring()` picks the platform's keyring on its own.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import keyring.errors
import pytest

from tests.cli.conftest import Cli, run_subprocess, subprocess_env
from tui_omemo.store import KeyringBackend, KeyringKeys, keyring_entry

pytestmark = pytest.mark.keyring


@pytest.fixture
def secret_service() -> KeyringBackend:
    """The Secret Service backend, once it answers."""
    if not os.environ.get("TUI_OMEMO_TEST_SECRET_SERVICE"):
        pytest.skip("needs TUI_OMEMO_TEST_SECRET_SERVICE (run under scripts/with-keyring.sh)")
    from keyring.backends import SecretService

    backend: KeyringBackend = SecretService.Keyring()  # type: ignore[no-untyped-call]
    _wait_until_it_answers(backend)
    return backend


@pytest.fixture
def keyring_cli(tmp_path: Path, secret_service: KeyringBackend) -> Iterator[Cli]:
    """A CLI on the Secret Service and no passphrase; the profile's entry is deleted after."""
    cli = Cli(tmp_path / "profile", {}, lambda: secret_service)
    yield cli
    _forget(secret_service, cli.profile)


def test_account_add_keeps_the_key_in_the_secret_service(
    keyring_cli: Cli, secret_service: KeyringBackend
) -> None:
    result = keyring_cli("account", "add", "alice@localhost", "--password-stdin", stdin="pw\n")
    assert result.code == 0, result.err
    key = KeyringKeys(secret_service).load(_entry(keyring_cli.profile))
    assert key is not None
    for path in keyring_cli.profile.iterdir():
        assert key.material.hex().encode() not in path.read_bytes()
    assert keyring_cli("history", "bob@localhost").code == 0


def test_missing_secret_service_entry_is_one_line_exit_1(
    keyring_cli: Cli, secret_service: KeyringBackend
) -> None:
    added = keyring_cli("account", "add", "alice@localhost", "--password-stdin", stdin="pw\n")
    assert added.code == 0
    KeyringKeys(secret_service).delete(_entry(keyring_cli.profile))
    result = keyring_cli("history", "bob@localhost")
    assert result.code == 1
    assert len(result.err_lines) == 1
    assert "keyring" in result.err


def test_the_entry_point_finds_the_platform_keyring(
    tmp_path: Path, secret_service: KeyringBackend
) -> None:
    """`tui-omemo` as a fresh process: `keyring.get_keyring()` finds the Secret Service, so
    no passphrase is needed, and the key lands there."""
    profile = tmp_path / "profile"
    env = subprocess_env()
    del env["PYTHON_KEYRING_BACKEND"]
    try:
        added = run_subprocess(
            "--profile", str(profile), "account", "add", "a@localhost", "--password-stdin",
            env=env, stdin="pw\n",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        assert KeyringKeys(secret_service).load(_entry(profile)) is not None
        read = run_subprocess("--profile", str(profile), "history", "b@localhost", env=env)
        assert read.returncode == 0, read.stderr
    finally:
        _forget(secret_service, profile)


def _entry(profile: Path) -> str:
    """The keyring entry name profile.json gives (the profile id)."""
    entry = keyring_entry(profile)
    assert entry is not None
    return entry


def _forget(backend: KeyringBackend, profile: Path) -> None:
    """Delete a test profile's keyring entry, if it got one."""
    if (profile / "profile.json").exists():
        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            KeyringKeys(backend).delete(_entry(profile))


def _wait_until_it_answers(backend: KeyringBackend, attempts: int = 10) -> None:
    """The daemon may still be starting (or busy) when the first test asks: try a throwaway
    entry until it answers, so a slow start is not mistaken for a missing keyring."""
    for _ in range(attempts):
        try:
            backend.set_password("tui-omemo-test-probe", "probe", "1")
            backend.delete_password("tui-omemo-test-probe", "probe")
            return
        except keyring.errors.KeyringError:
            time.sleep(0.5)
    pytest.fail("the Secret Service does not answer")
