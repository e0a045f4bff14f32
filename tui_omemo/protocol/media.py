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
beyond the file object it is given.
"""

from __future__ import annotations

import io
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tui_omemo.protocol.errors import ProtocolError

SCHEME = "aesgcm"
IV_SIZE = 12
KEY_SIZE = 32
TAG_SIZE = 16
FRAGMENT_LENGTH = 2 * (IV_SIZE + KEY_SIZE)
CHUNK_SIZE = 256 * 1024
"""Bytes of plaintext encrypted per read: big enough that per-call overhead does not matter,
small enough that a 50 MiB file never sits in memory."""

_FRAGMENT = re.compile(r"[0-9a-fA-F]+")

Progress = Callable[[int], None]
"""Hears a running byte count (for a progress bar)."""


class MediaError(ProtocolError):
    """A shared file or its link is not usable."""


class BadMediaLink(MediaError):
    """A text is not a well-formed `aesgcm://` link (wrong scheme, no host or path, or a
    fragment that is not 88 hex digits)."""


class MediaTagMismatch(MediaError):
    """The downloaded file's tag does not match: it was altered, truncated, or the key is
    not its key. None of its plaintext may be kept."""


@dataclass(frozen=True, slots=True)
class MediaKey:
    """The IV and key of one shared file. `repr` never shows them."""

    iv: bytes
    key: bytes

    def __post_init__(self) -> None:
        if len(self.iv) != IV_SIZE or len(self.key) != KEY_SIZE:
            raise BadMediaLink("a media key is a 12-byte IV and a 32-byte key")

    @classmethod
    def generate(cls) -> MediaKey:
        """A fresh random IV and key (one per file, never reused)."""
        return cls(secrets.token_bytes(IV_SIZE), secrets.token_bytes(KEY_SIZE))

    @classmethod
    def from_fragment(cls, fragment: str) -> MediaKey:
        """Read the 88 hex digits of a link's fragment.

        Raises:
            BadMediaLink: any other length, or a character that is not a hex digit.
        """
        if len(fragment) != FRAGMENT_LENGTH or not _FRAGMENT.fullmatch(fragment):
            raise BadMediaLink(
                f"the link's key is not {FRAGMENT_LENGTH} hex digits (it has {len(fragment)})"
            )
        raw = bytes.fromhex(fragment)
        return cls(raw[:IV_SIZE], raw[IV_SIZE:])

    @property
    def fragment(self) -> str:
        """The 88 lowercase hex digits: IV then key."""
        return (self.iv + self.key).hex()

    def __repr__(self) -> str:
        return "MediaKey(<secret>)"


@dataclass(frozen=True, slots=True)
class MediaLink:
    """A parsed `aesgcm://host[:port]/path#fragment` link. `repr` hides the key.

    Attributes:
        location: `host[:port]/path` (with any query), as in the link, without the scheme.
        key: the file's IV and key.
    """

    location: str
    key: MediaKey

    def __repr__(self) -> str:
        return f"MediaLink({self.location!r}, <key>)"

    @property
    def host(self) -> str:
        """The host name (lowercase, without port or brackets)."""
        return urlsplit(f"//{self.location}").hostname or ""

    @property
    def file_name(self) -> str:
        """The last path segment, percent-decoded (a hint only: sanitise before using it)."""
        path = urlsplit(f"//{self.location}").path
        return unquote(path.rsplit("/", 1)[-1])

    def text(self) -> str:
        """The link as sent in a message body."""
        return f"{SCHEME}://{self.location}#{self.key.fragment}"

    def http_url(self, *, plain: bool = False) -> str:
        """Where to fetch the blob: `https://` (or `http://` when `plain`, which the caller
        allows only for a loopback host)."""
        return f"{'http' if plain else 'https'}://{self.location}"

    @classmethod
    def for_upload(cls, get_url: str, key: MediaKey) -> MediaLink:
        """The link for a file uploaded to `get_url` (the slot's `https://` or, on loopback,
        `http://` address).

        Raises:
            BadMediaLink: `get_url` is not http(s), has no host, or already has a fragment.
        """
        scheme, _, rest = get_url.partition("://")
        if scheme.lower() not in {"https", "http"} or "#" in rest:
            raise BadMediaLink("the upload service returned an address that is not a web link")
        link = cls(rest, key)
        if not link.host:
            raise BadMediaLink("the upload service returned an address without a host")
        return link


def parse_link(text: str) -> MediaLink:
    """Read a message body that should be exactly one `aesgcm://` link (surrounding white
    space ignored).

    Raises:
        BadMediaLink: anything else, with the reason.
    """
    stripped = text.strip()
    scheme, separator, rest = stripped.partition("://")
    if not separator or scheme.lower() != SCHEME:
        raise BadMediaLink("not an aesgcm:// link")
    if any(character.isspace() for character in rest):
        raise BadMediaLink("an aesgcm:// link has no white space")
    location, hash_mark, fragment = rest.partition("#")
    if not hash_mark:
        raise BadMediaLink("the aesgcm:// link carries no key")
    link = MediaLink(location, MediaKey.from_fragment(fragment))
    if not link.host or "/" not in location:
        raise BadMediaLink("the aesgcm:// link has no host or no path")
    return link


def file_link(body: str | None) -> MediaLink | None:
    """The link when a decrypted body is exactly one well-formed `aesgcm://` link, else
    None (an ordinary text message, which may mention such a link among other words)."""
    if not body:
        return None
    try:
        return parse_link(body)
    except BadMediaLink:
        return None


def encrypted_size(plain_size: int) -> int:
    """Bytes uploaded for a file of `plain_size` bytes (ciphertext plus tag)."""
    return plain_size + TAG_SIZE


def plain_size(blob_size: int) -> int:
    """Bytes of plaintext in a blob of `blob_size` bytes.

    Raises:
        MediaTagMismatch: the blob is shorter than a tag.
    """
    if blob_size < TAG_SIZE:
        raise MediaTagMismatch("the file is shorter than its tag")
    return blob_size - TAG_SIZE


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
