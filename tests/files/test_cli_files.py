"""`send-file`, `listen --json`, `history --json` and `download` between two tui-omemo
profiles over Prosody with mod_http_file_share."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Account, CliRunner, subscribe_both
from tests.prosody import ProsodyServer

pytestmark = [pytest.mark.prosody, pytest.mark.slow]

NewAccount = Callable[[str], Awaitable[Account]]


def _read(path: Path) -> bytes:
    return path.read_bytes()


@pytest.mark.parametrize("version", ["2", "0.3"])
async def test_a_file_goes_from_one_profile_to_another(
    prosody: ProsodyServer,
    runner: CliRunner,
    new_account: NewAccount,
    tmp_path: Path,
    version: str,
) -> None:
    """Alice's `send-file` reaches Bob's `listen --json` as a file message (name, type, no
    key anywhere); `download`, served by that listen, saves the same bytes in the caller's
    downloads directory and prints the path; a second download, alone, does not overwrite
    the first; a refused download says the same, with the same status, served or alone;
    `history --json` shows the file the same way, with the latest saved path, the size and
    the SHA-256."""
    alice, bob = await new_account("alice"), await new_account("bob")
    await subscribe_both(prosody, alice, bob)
    content = os.urandom(70_000)
    source = tmp_path / "notes.txt"
    source.write_bytes(content)
    listener = await runner.start(bob, "listen", "--timeout", "120", "--json")
    downloads = tmp_path / "downloads"
    try:
        await listener.wait_ready()
        sent = await runner.run(alice, "send-file", bob.jid, str(source), "--omemo", version)
        assert sent.code == 0, sent.err
        assert sent.out == f"sent notes.txt to {bob.jid}\n"
        message = await listener.next_json()
        # listen holds Bob's profile: these are served by it, into the downloads directory
        # of the process they were typed in
        first = await runner.run(
            bob, "download", alice.jid, str(message["id"]), TUI_OMEMO_DOWNLOADS=str(downloads)
        )
        served_refusal = await runner.run(bob, "download", alice.jid, "999999")
    finally:
        await listener.stop()
    assert message["omemo"] == version
    assert message["file"]["type"] == "text/plain"
    assert message["file"]["name"].endswith(".txt")
    assert message["text"] == f"[file] {message['file']['name']}"
    assert "aesgcm" not in json.dumps(message)

    assert first.code == 0, first.err
    saved = Path(first.out.strip())
    assert saved.parent == downloads
    assert _read(saved) == content
    again = await runner.run(
        bob, "download", alice.jid, str(message["id"]), "--dir", str(downloads)
    )  # alone, listen has ended
    assert Path(again.out.strip()).name == saved.stem + " (1).txt"
    refusal = await runner.run(bob, "download", alice.jid, "999999")
    assert (served_refusal.code, served_refusal.out, served_refusal.err) == (
        refusal.code, refusal.out, refusal.err,
    )  # fmt: skip
    assert refusal.code == 1
    assert refusal.err == f"tui-omemo: message 999999 with {alice.jid} is not a file message\n"

    history = await runner.run(bob, "history", alice.jid, "--json")
    (row,) = [json.loads(line) for line in history.out.splitlines()]
    assert row["file"] == {
        **message["file"],
        "size": len(content),
        "saved": again.out.strip(),
        "sha256": hashlib.sha256(content).hexdigest(),
    }
