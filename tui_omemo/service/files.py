"""Encrypted file sharing (XEP-0454 over XEP-0363): upload a file, download a received one.

`upload_file` refuses a file the upload service would not take before anything leaves
(size against the service's `max-file-size`, in words), encrypts it with a fresh key while it
streams to the slot, and returns the `aesgcm://` link; the caller sends that link as an
ordinary OMEMO message body (never in plaintext). `download_file` fetches a link's blob,
decrypts it while it streams into a hidden temporary file in the downloads directory, checks
the tag and only then gives the file its (safe, never overwriting) name; a failed tag check
keeps nothing. Each download first clears what downloads killed earlier left in that
directory (`downloads.remove_leftovers`: hidden `.part` files an hour old). `describe` tells
whether a decrypted body is a file message and what to show for it (name, type) without the
key.

The slot is requested under a random name with the file's extension only: the server
operator learns neither the file's name nor its type (the content type is always
`application/octet-stream`), as Conversations does. HTTP itself is behind `FileTransport`
(implemented by `xmpp.http_files.HttpFiles`), so this module knows no slixmpp nor aiohttp.
"""

from __future__ import annotations

import contextlib
import hashlib
import mimetypes
import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import BinaryIO, Protocol

from tui_omemo.protocol.media import (
    CHUNK_SIZE,
    Decryptor,
    EncryptingReader,
    MediaKey,
    MediaLink,
    encrypted_size,
    file_link,
    plain_size,
)
from tui_omemo.service.api_files import FileInfo, SavedFile
from tui_omemo.service.downloads import AtomicFile, remove_leftovers, safe_name

Progress = Callable[[int, int | None], None]
"""Hears (bytes done, bytes in all or None when unknown)."""
_EXTENSION_LIMIT = 10


class FileShareError(Exception):
    """A file cannot be sent or saved; the message says why in words."""


class FileTooLarge(FileShareError):
    """The upload service's size limit is smaller than the file."""


class FileSlot(Protocol):
    """An upload slot (`xmpp.http_files.UploadSlot`)."""

    @property
    def put_url(self) -> str: ...

    @property
    def get_url(self) -> str: ...

    @property
    def headers(self) -> tuple[tuple[str, str], ...]: ...


class IncomingBlob(Protocol):
    """An open download (`xmpp.http_files.Incoming`)."""

    size: int | None

    def chunks(self) -> AsyncIterator[bytes]: ...


class UploadLimit(Protocol):
    """The upload service (`xmpp.http_files.UploadService`)."""

    @property
    def max_file_size(self) -> int | None: ...


class FileTransport(Protocol):
    """What file sharing needs from the network (`xmpp.http_files.HttpFiles`)."""

    def plain_allowed(self, host: str) -> bool: ...

    async def upload_service(self) -> UploadLimit: ...

    async def request_slot(self, name: str, size: int, content_type: str) -> FileSlot: ...

    async def put(self, slot: FileSlot, body: AsyncIterator[bytes], size: int) -> None: ...

    def get(self, url: str) -> AbstractAsyncContextManager[IncomingBlob]: ...


def describe(body: str | None) -> FileInfo | None:
    """The file a decrypted body offers, or None when it is not exactly one aesgcm:// link."""
    link = file_link(body)
    if link is None:
        return None
    name = safe_name(link.file_name)
    return FileInfo(name, mimetypes.guess_type(name)[0] or "application/octet-stream")


def human_size(size: float) -> str:
    """`1.5 MiB`-style size for messages."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def upload_name(path: Path) -> str:
    """A random name that keeps only a short alphanumeric extension (`3f…9a.jpg`)."""
    extension = path.suffix[1:].lower()
    keep = extension.isascii() and extension.isalnum() and len(extension) <= _EXTENSION_LIMIT
    return secrets.token_hex(16) + (f".{extension}" if keep and extension else "")


async def upload_file(
    transport: FileTransport, path: Path, progress: Progress | None = None
) -> MediaLink:
    """Encrypt `path` with a fresh key and upload it.

    Returns:
        The link to send (inside an OMEMO message only).

    Raises:
        FileShareError: not a readable regular file, or larger than the service takes
            (`FileTooLarge`), before any byte leaves.
        TransportError: no upload service, a refused slot, an HTTP failure.
    """
    with _open_regular(path) as source:
        size = encrypted_size(os.fstat(source.fileno()).st_size)
        service = await transport.upload_service()
        _check_limit(path, size, service.max_file_size)
        slot = await transport.request_slot(upload_name(path), size, "application/octet-stream")
        key = MediaKey.generate()
        reader = EncryptingReader(source, key)
        await transport.put(slot, _blob_chunks(reader, size, progress), size)
    return MediaLink.for_upload(slot.get_url, key)


def _check_limit(path: Path, size: int, limit: int | None) -> None:
    if limit is not None and size > limit:
        raise FileTooLarge(
            f"{path.name} is {human_size(size)} encrypted; the server takes files up to "
            f"{human_size(limit)}"
        )


@contextlib.contextmanager
def _open_regular(path: Path) -> Iterator[BinaryIO]:
    """Open `path` for reading, or say in words why not."""
    if not path.exists():
        raise FileShareError(f"no such file: {path}")
    if not path.is_file():
        raise FileShareError(f"not a regular file: {path}")
    try:
        source = path.open("rb")
    except OSError as error:
        raise FileShareError(f"cannot read {path}: {error.strerror}") from error
    with source:
        yield source


async def _blob_chunks(
    reader: EncryptingReader, size: int, progress: Progress | None
) -> AsyncIterator[bytes]:
    while chunk := reader.read(CHUNK_SIZE):
        yield chunk
        if progress is not None:
            progress(reader.total, size)


async def download_file(
    transport: FileTransport,
    link: MediaLink,
    directory: Path,
    progress: Progress | None = None,
    limit: int | None = None,
) -> SavedFile:
    """Fetch, decrypt and verify `link`'s file and save it in `directory`.

    Args:
        limit: the most bytes of plaintext to accept (automatic downloads); a larger file
            is refused by its announced size before anything is written, or as soon as it
            grows past the limit.

    Returns:
        Where it was saved (a new name, never an existing file), its size and SHA-256.

    Raises:
        FileTooLarge: larger than `limit`; nothing is kept.
        MediaTagMismatch: the file was altered or incomplete; nothing is kept.
        TransportError: the address is refused, an HTTP error, a broken connection.
        FileShareError: the directory cannot be written.
    """
    url = link.http_url(plain=transport.plain_allowed(link.host))
    digest = hashlib.sha256()
    decryptor = Decryptor(link.key)
    remove_leftovers(directory)  # of downloads killed before (an hour old: not running)
    try:
        target = AtomicFile(directory, describe_name(link))
    except OSError as error:
        raise FileShareError(f"cannot write to {directory}: {error.strerror}") from error
    with target:
        async with transport.get(url) as incoming:
            total = None if incoming.size is None else plain_size(incoming.size)
            _check_download(link, total, limit)
            async for chunk in incoming.chunks():
                _keep(target, digest, decryptor.update(chunk))
                _check_download(link, decryptor.size, limit)
                if progress is not None:
                    progress(decryptor.size, total)
        _keep(target, digest, decryptor.finish())
        path = target.commit()
    return SavedFile(path, decryptor.size, digest.hexdigest())


def _check_download(link: MediaLink, size: int | None, limit: int | None) -> None:
    if limit is not None and size is not None and size > limit:
        raise FileTooLarge(
            f"{describe_name(link)} is larger than {human_size(limit)}, the limit for automatic "
            "downloads; nothing was saved"
        )


def describe_name(link: MediaLink) -> str:
    """The safe name a link's file is saved under (before numbering)."""
    return safe_name(link.file_name)


def _keep(target: AtomicFile, digest: hashlib._Hash, data: bytes) -> None:
    if data:
        target.write(data)
        digest.update(data)
