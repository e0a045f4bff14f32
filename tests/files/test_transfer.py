"""Upload and download of encrypted files over Prosody's mod_http_file_share (XEP-0363 slot
through slixmpp's xep_0363, bytes over aiohttp).

Pins: the size limit read from the service's disco and enforced before any byte leaves; files
of 0 bytes, 1 byte and 5 MiB round trip; a tampered blob keeps nothing on disk; plain HTTP
only to loopback with the switch; progress reaches the total.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.files.conftest import MakeFiles
from tests.prosody import UPLOAD_LIMIT, ProsodyServer
from tui_omemo.protocol.media import MediaKey, MediaLink, MediaTagMismatch
from tui_omemo.service.files import FileShareError, FileTooLarge, download_file, upload_file
from tui_omemo.xmpp.http_files import FileTransferError

pytestmark = pytest.mark.prosody


async def test_the_size_limit_comes_from_the_service_disco(
    files: MakeFiles, prosody: ProsodyServer
) -> None:
    """max-file-size is what mod_http_file_share announces."""
    alice = await files()
    service = await alice.upload_service()
    assert service.max_file_size == prosody.upload_limit == UPLOAD_LIMIT


@pytest.mark.parametrize("size", [0, 1, 5 * 1024 * 1024])
async def test_a_file_round_trips(files: MakeFiles, tmp_path: Path, size: int) -> None:
    """Alice uploads, Bob downloads and gets the same bytes under the file's name."""
    alice, bob = await files(), await files()
    source = tmp_path / "out" / "report.pdf"
    source.parent.mkdir()
    content = os.urandom(size)
    source.write_bytes(content)
    seen: list[tuple[int, int | None]] = []
    link = await upload_file(alice, source, lambda done, total: seen.append((done, total)))
    assert link.file_name.endswith(".pdf")
    assert "report" not in link.text()
    saved = await download_file(bob, link, tmp_path / "in")
    assert saved.path.read_bytes() == content
    assert saved.size == size
    assert saved.sha256 == hashlib.sha256(content).hexdigest()
    assert seen[-1] == (size + 16, size + 16)


async def test_an_oversize_file_is_refused_before_any_byte_leaves(
    files: MakeFiles, tmp_path: Path, prosody: ProsodyServer
) -> None:
    """A file over the limit fails with sizes in words, and no slot is even requested."""
    alice = await files()
    big = tmp_path / "big.bin"
    with big.open("wb") as out:
        out.truncate(prosody.upload_limit)
    requested: list[str] = []
    original = alice.request_slot

    async def spy(name: str, size: int, content_type: str):  # type: ignore[no-untyped-def]
        requested.append(name)
        return await original(name, size, content_type)

    alice.request_slot = spy  # type: ignore[method-assign]
    with pytest.raises(FileTooLarge, match=r"big\.bin is 8\.0 MiB encrypted; the server takes"):
        await upload_file(alice, big)
    assert requested == []


async def test_a_tampered_file_keeps_nothing(files: MakeFiles, tmp_path: Path) -> None:
    """A blob whose tag does not match is refused and nothing is left in the directory."""
    alice, bob = await files(), await files()
    source = tmp_path / "a.txt"
    source.write_bytes(b"hello" * 1000)
    link = await upload_file(alice, source)
    wrong = MediaLink(link.location, MediaKey(link.key.iv, bytes(32)))
    downloads = tmp_path / "downloads"
    with pytest.raises(MediaTagMismatch):
        await download_file(bob, wrong, downloads)
    assert list(downloads.iterdir()) == []


async def test_a_download_over_its_limit_keeps_nothing(files: MakeFiles, tmp_path: Path) -> None:
    """An automatic download's cap: a file larger than the limit is refused in words and
    nothing is left; one at the limit is saved."""
    alice, bob = await files(), await files()
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(3000))
    link = await upload_file(alice, source)
    downloads = tmp_path / "downloads"
    with pytest.raises(FileTooLarge, match=r"larger than 2\.9 KiB, the limit"):
        await download_file(bob, link, downloads, limit=2999)
    assert list(downloads.iterdir()) == []
    saved = await download_file(bob, link, downloads, limit=3000)
    assert saved.path.read_bytes() == source.read_bytes()


async def test_plain_http_needs_the_loopback_switch(files: MakeFiles, tmp_path: Path) -> None:
    """Without the account's loopback-plaintext switch the http:// slot is refused."""
    alice = await files(plain=False)
    source = tmp_path / "a.txt"
    source.write_bytes(b"x")
    with pytest.raises(FileTransferError, match="refusing to transfer a file over http"):
        await upload_file(alice, source)


async def test_a_missing_file_or_a_directory_is_refused_in_words(tmp_path: Path) -> None:
    """Before anything is asked of the server: the path is not there, or is not a file."""
    with pytest.raises(FileShareError, match="no such file"):
        await upload_file(None, tmp_path / "none.pdf")  # type: ignore[arg-type]
    with pytest.raises(FileShareError, match="not a regular file"):
        await upload_file(None, tmp_path)  # type: ignore[arg-type]
