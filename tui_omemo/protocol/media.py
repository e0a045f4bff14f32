"""Encrypted media sharing (XEP-0454): the file cipher and the `aesgcm://` link.

A shared file is encrypted with a fresh AES-256 key and a 12-byte IV under AES-GCM; the
16-byte tag is appended to the ciphertext, and the uploaded blob is exactly
`ciphertext || tag`. The IV and key travel only inside the OMEMO-encrypted body, as the URL
fragment of `aesgcm://host/path#<iv hex><key hex>` (88 hex digits: 24 for the IV, 64 for the
key). Conversations, Dino, Gajim and Profanity all use this shape.

Both directions stream: `EncryptingReader` is a file object over the plaintext that yields
the blob chunk by chunk (so an HTTP client can upload it without the file in memory), and
`Decryptor` takes the blob in chunks of any size, holds back the last 16 bytes (the tag) and
only vouches for the plaintext once `finish()` has checked the tag. Nothing here does I/O
beyond the file object it is given. The link itself is `protocol.media_link` (re-exported
here).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tui_omemo.protocol.media_link import (
    FRAGMENT_LENGTH,
    IV_SIZE,
    KEY_SIZE,
    SCHEME,
    TAG_SIZE,
    BadMediaLink,
    MediaError,
    MediaKey,
    MediaLink,
    MediaTagMismatch,
    carries_key,
    encrypted_size,
    file_link,
    parse_link,
    plain_size,
)

__all__ = [
    "CHUNK_SIZE",
    "FRAGMENT_LENGTH",
    "IV_SIZE",
    "KEY_SIZE",
    "SCHEME",
    "TAG_SIZE",
    "BadMediaLink",
    "Decryptor",
    "EncryptingReader",
    "MediaError",
    "MediaKey",
    "MediaLink",
    "MediaTagMismatch",
    "Progress",
    "carries_key",
    "encrypted_size",
    "file_link",
    "parse_link",
    "plain_size",
]

CHUNK_SIZE = 256 * 1024
"""Bytes of plaintext encrypted per read: big enough that per-call overhead does not matter,
small enough that a 50 MiB file never sits in memory."""

Progress = Callable[[int], None]
"""Hears a running byte count (for a progress bar)."""


class EncryptingReader(io.RawIOBase):
    """A read-only file object whose content is `AES-256-GCM(plaintext) || tag`, read from
    `source` chunk by chunk.

    `on_read(total)` (optional) hears the number of blob bytes handed out so far, for a
    progress bar.
    """

    def __init__(self, source: BinaryIO, key: MediaKey, on_read: Progress | None = None):
        super().__init__()
        self._source = source
        self._encryptor = Cipher(algorithms.AES(key.key), modes.GCM(key.iv)).encryptor()
        self._pending = b""
        self._finished = False
        self._on_read = on_read
        self.total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Fill `buffer` with the next blob bytes; 0 at the end."""
        while not self._pending and not self._finished:
            self._pending = self._next_piece()
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        self.total += size
        if self._on_read is not None and size:
            self._on_read(self.total)
        return size

    def _next_piece(self) -> bytes:
        chunk = self._source.read(CHUNK_SIZE)
        if chunk:
            return self._encryptor.update(chunk)
        self._finished = True
        return self._encryptor.finalize() + self._encryptor.tag


class Decryptor:
    """Decrypts a blob fed in chunks; the last 16 bytes are the tag.

    `update(chunk)` returns plaintext that is NOT yet authenticated: write it only where it
    can be thrown away (a temporary file) until `finish()` returns without raising.
    """

    def __init__(self, key: MediaKey) -> None:
        self._key = key
        self._held = b""
        self._decryptor = Cipher(algorithms.AES(key.key), modes.GCM(key.iv)).decryptor()
        self.size = 0

    def update(self, chunk: bytes) -> bytes:
        """Decrypt everything but the last 16 bytes seen so far."""
        data = self._held + chunk
        cut = max(0, len(data) - TAG_SIZE)
        self._held = data[cut:]
        self.size += cut
        return self._decryptor.update(data[:cut])

    def finish(self) -> bytes:
        """Check the tag.

        Raises:
            MediaTagMismatch: the tag does not match or the blob was shorter than a tag.
        """
        if len(self._held) != TAG_SIZE:
            raise MediaTagMismatch("the file is shorter than its tag")
        try:
            return self._decryptor.finalize_with_tag(self._held)
        except InvalidTag as error:
            raise MediaTagMismatch(
                "the file does not match its key: it was altered or is incomplete"
            ) from error
