"""Pilot journey of the real app over Prosody with mod_http_file_share: `/file PATH` sends a
file the contact can fetch and decrypt; a file from the contact shows as a file (name, never
the link) and `d` saves it, the path shown on its line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.prosody import ProsodyServer
from tests.service.conftest import Peer, PeerFactory, make_peer  # noqa: F401 (fixture)
from tests.ui.test_pilot_prosody import (
    contact,  # noqa: F401 (fixture)
    first_run,
    keyring_console,
    open_chat_by_filter,
    real_app,
    until,
)
from tui_omemo.commands.file_sharing import DOWNLOADS_ENV
from tui_omemo.protocol.media import parse_link
from tui_omemo.service.files import download_file, upload_file
from tui_omemo.ui.widgets.composer import Composer
from tui_omemo.ui.widgets.message_log import MessageLog
from tui_omemo.xmpp.http_files import HttpFiles

pytestmark = [pytest.mark.prosody, pytest.mark.slow]


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def _read(path: Path) -> bytes:
    return path.read_bytes()


def _visible(directory: Path) -> list[Path]:
    """Files under their final names (not a download's hidden temporary file)."""
    if not directory.exists():
        return []
    return [path for path in directory.iterdir() if not path.name.startswith(".")]


def _shown(log: MessageLog) -> str:
    """The log's text as painted, wrapped lines joined (so a phrase is found across a wrap)."""
    lines = [line.plain for message in log.messages for line in log._wrap(message)]
    joined = "".join(" " + line.strip() if line.startswith(" ") else "\n" + line for line in lines)
    return "\n".join(" ".join(row.split()) for row in joined.splitlines())


async def test_send_a_file_from_the_app_and_save_one_received(
    prosody: ProsodyServer,
    contact: tuple[tuple[str, str], Peer],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both directions in the app, decrypted and verified on the other side."""
    ours, peer = contact
    downloads = tmp_path / "downloads"
    monkeypatch.setenv(DOWNLOADS_ENV, str(downloads))
    outgoing = _write(tmp_path / "plan.txt", os.urandom(30_000))
    incoming = _write(tmp_path / "photo.jpg", os.urandom(40_000))
    theirs = HttpFiles(peer.xmpp, allow_plaintext_loopback=True)
    async with real_app(tmp_path / "ours", keyring_console()) as (_app, pilot):
        await first_run(pilot, prosody, ours)
        screen = await open_chat_by_filter(pilot, peer.jid)
        screen.query_one(Composer).load_text(f"/file {outgoing}")
        await pilot.press("enter")
        received = await peer.next_message()
        saved = await download_file(theirs, parse_link(received.message.body), tmp_path / "peer")
        assert _read(saved.path) == _read(outgoing)

        link = await upload_file(theirs, incoming)
        await peer.service.send(ours[0], link.text())
        log = screen.query_one(MessageLog)

        def offered() -> bool:
            return any(m.file is not None and not m.outgoing for m in log.messages)

        await until(pilot, offered, "the contact's file in the log")
        assert "aesgcm" not in _shown(log)
        assert ".jpg (image/jpeg) — d: download" in _shown(log)
        log.focus()
        await pilot.press("d")
        await until(pilot, lambda: bool(_visible(downloads)), "the file saved")
        (path,) = _visible(downloads)
        assert _read(path) == _read(incoming)
        wanted = f"savedto{path}".replace(" ", "")
        await until(
            pilot, lambda: wanted in _shown(log).replace(" ", ""), "the saved path on its line"
        )
