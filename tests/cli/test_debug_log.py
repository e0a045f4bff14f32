"""TUI_OMEMO_DEBUG=1 logs slixmpp's raw stream on stderr, but never the SASL exchange or the
password (DESIGN.md §3.13): the CLI installs the redacting filter on its log handler."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable

from tests.cli.conftest import PASSPHRASE, Account, CliRunner
from tui_omemo.xmpp.log_redaction import REDACTED


async def test_debug_run_logs_the_stream_but_no_secret(
    new_account: Callable[[str], Awaitable[Account]], runner: CliRunner
) -> None:
    """A debug `devices --json` run logs SEND/RECV lines with the SCRAM exchange redacted and
    neither the password nor the passphrase in any form."""
    account = await new_account("debug")
    result = await runner.run(account, "devices", "--json", TUI_OMEMO_DEBUG="1")
    assert result.code == 0, result.err
    assert "SEND: " in result.err
    assert "<auth " in result.err
    assert f">{REDACTED}</auth>" in result.err
    assert f">{REDACTED}</challenge>" in result.err
    for secret in (account.password, PASSPHRASE):
        for form in (secret, base64.b64encode(secret.encode()).decode(), secret.encode().hex()):
            assert form not in result.err
    assert ",r=" not in result.err
    assert ",s=" not in result.err
