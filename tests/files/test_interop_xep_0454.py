"""Interop with slixmpp's own XEP-0454 helper (`slixmpp.plugins.xep_0454.XEP_0454`), over
Prosody's mod_http_file_share: a file we upload decrypts with its `decrypt`, and a file it
encrypted (uploaded through our slot) downloads, verifies and saves with ours."""

from __future__ import annotations

import io
import os
from pathlib import Path

import aiohttp
import pytest
from slixmpp.plugins.xep_0454 import XEP_0454

from tests.files.conftest import MakeFiles
from tui_omemo.protocol.media import parse_link
from tui_omemo.service.files import download_file, upload_file

pytestmark = pytest.mark.prosody


async def _get(url: str) -> bytes:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        response.raise_for_status()
        return await response.read()


async def test_slixmpp_decrypts_a_file_we_sent(files: MakeFiles, tmp_path: Path) -> None:
    """Our link's fragment and blob are what slixmpp's helper expects (88 hex, tag appended)."""
    alice = await files()
    content = os.urandom(100_000)
    source = tmp_path / "a.bin"
    source.write_bytes(content)
    link = await upload_file(alice, source)
    blob = await _get(link.http_url(plain=True))
    assert XEP_0454.decrypt(io.BytesIO(blob), link.key.fragment) == content


async def test_we_save_a_file_slixmpp_encrypted(files: MakeFiles, tmp_path: Path) -> None:
    """slixmpp's `encrypt` output, uploaded to a slot, downloads and verifies with ours."""
    bob = await files()
    content = os.urandom(70_001)
    blob, fragment = XEP_0454.encrypt(input_file=io.BytesIO(content))
    slot = await bob.request_slot("from-slixmpp.bin", len(blob), "application/octet-stream")

    async def body():  # type: ignore[no-untyped-def]
        yield blob

    await bob.put(slot, body(), len(blob))
    text = "aesgcm://" + slot.get_url.partition("://")[2] + "#" + fragment
    saved = await download_file(bob, parse_link(text), tmp_path / "in")
    assert saved.path.name == "from-slixmpp.bin"
    assert saved.path.read_bytes() == content
