"""The certificate pin through `AccountEditor`: the same contract for the real editor
(`ProfileAccount` over a real SQLCipher profile, as the app uses it after a failed login) and
for `FakeService`, which the account screen's UI tests drive.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import DictKeyring
from tests.fakes_ui import FakeService
from tui_omemo.commands.account import create_account
from tui_omemo.service.account import ProfileAccount
from tui_omemo.service.api import AccountChange, AccountEditor
from tui_omemo.store import Account, KeyringKeys, open_profile

PIN = ":".join(["5C", "23"] * 16)


def profile_editor(directory: Path) -> ProfileAccount:
    """A profile with an account and an identity, edited the way the app does it."""
    keys = KeyringKeys(DictKeyring(), service="tui-omemo-test-pin")
    with open_profile(directory, keys) as database:
        create_account(database, Account("alice@example.org", "secret"))
    return ProfileAccount(lambda: open_profile(directory, keys))


@pytest.fixture(params=["profile", "fake"])
def editor(request: pytest.FixtureRequest, tmp_path: Path) -> AccountEditor:
    if request.param == "fake":
        return FakeService()
    return profile_editor(tmp_path / "profile")


async def test_a_pin_is_stored_normalised_refused_whole_and_removed(editor: AccountEditor) -> None:
    """No pin at first; a pin given as bare lower-case hex is stored as `AA:BB:…`; a change
    with a bad pin raises and changes nothing, not even its other fields; "" removes it."""
    assert (await editor.account()).certificate_pin is None
    info = await editor.update_account(AccountChange(certificate_pin=PIN.replace(":", "").lower()))
    assert info.certificate_pin == PIN
    before = await editor.account()
    with pytest.raises(ValueError, match="SHA-256"):
        await editor.update_account(AccountChange(label="desk", certificate_pin="12:34"))
    assert await editor.account() == before
    assert (await editor.update_account(AccountChange(certificate_pin=""))).certificate_pin is None
