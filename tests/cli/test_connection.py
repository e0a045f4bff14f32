"""Connecting from the command line: an address where nobody listens fails at once with one
line naming the address and the reason, not after `--timeout`."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.cli.conftest import Account, CliRunner


async def test_send_to_a_dead_port_fails_with_one_line(runner: CliRunner, tmp_path: Path) -> None:
    with socket.socket() as blocker:  # bound, never listening: connections are refused
        blocker.bind(("127.0.0.1", 0))
        port = blocker.getsockname()[1]
        account = Account("alice@localhost", "pw", tmp_path / "profile")
        added = await runner.run(
            account, "account", "add", account.jid, "--server", f"127.0.0.1:{port}",
            "--password-stdin", "--allow-plaintext-loopback", stdin="pw\n",
        )  # fmt: skip
        assert added.code == 0, added.err
        # a --timeout the test would never wait for: only failing fast passes
        sent = await runner.run(
            account, "send", "bob@localhost", "hello", "--timeout", "3600", wait=120
        )
    assert sent.code == 5  # unreachable
    assert sent.out == ""
    assert sent.err_lines == [f"tui-omemo: cannot reach 127.0.0.1:{port} (Connection refused)"], (
        sent.err
    )
