"""Interop with slixmpp's own XEP-0454 helper (`slixmpp.plugins.xep_0454.XEP_0454`), over
Prosody's mod_http_file_share: a file we upload decrypts with its `decrypt`, and a file it
encrypted (uploaded through our slot) downloads, verifies and saves with ours; a file message
we send reaches slixmpp-omemo as a body link (with an OOB element inside OMEMO 2's SCE)."""

from __future__ import annotations

import io
import os
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from slixmpp.plugins.xep_0454 import XEP_0454

from tests.cli.conftest import Account, CliRunner, subscribe_both
from tests.cli.omemo_peer import LEGACY, SCE, V2, OmemoPeer
from tests.files.conftest import MakeFiles
from tests.prosody import ProsodyServer
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


@pytest.mark.slow
@pytest.mark.parametrize("version", ["2", "0.3"])
async def test_slixmpp_omemo_gets_our_file_message_as_a_body_link(
    prosody: ProsodyServer,
    runner: CliRunner,
    new_account: Callable[[str], Awaitable[Account]],
    tmp_path: Path,
    version: str,
) -> None:
    """`send-file` to a slixmpp-omemo client: python-omemo decrypts a body that is the link,
    and slixmpp's helper decrypts the file it names. In OMEMO 2 the SCE content also carries
    the link as an XEP-0066 `<x><url>`; in 0.3 the body goes alone (as Conversations sends
    it); the stanza shows no link outside the encryption either way."""
    alice = await new_account("alice")
    peer_jid, peer_password = prosody.create_account()
    await subscribe_both(prosody, alice, Account(peer_jid, peer_password, alice.profile))
    first = await runner.run(alice, "listen", "--timeout", "3")
    assert first.code == 0, first.err
    peer = await OmemoPeer.start(prosody, peer_jid, peer_password)
    stanzas: list[str] = []
    peer.client.add_event_handler("message", lambda stanza: stanzas.append(str(stanza)))
    content = os.urandom(3_000)
    source = tmp_path / "scan.pdf"
    source.write_bytes(content)
    try:
        await peer.refresh(alice.jid)
        sent = await runner.run(alice, "send-file", peer_jid, str(source), "--omemo", version)
        assert sent.code == 0, sent.err
        got = await peer.next_message()
    finally:
        await peer.stop()
    link = parse_link(got.text)
    assert got.namespace == (V2 if version == "2" else LEGACY), peer.errors
    assert (
        XEP_0454.decrypt(io.BytesIO(await _get(link.http_url(plain=True))), link.key.fragment)
        == content
    )
    assert not any("aesgcm" in stanza or "jabber:x:oob" in stanza for stanza in stanzas)
    if version == "2":
        (envelope,) = peer.envelopes
        url = ET.fromstring(envelope).findtext(
            f"{{{SCE}}}content/{{jabber:x:oob}}x/{{jabber:x:oob}}url"
        )
        assert url == got.text
    else:
        assert peer.envelopes == []
