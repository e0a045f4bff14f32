"""The `aesgcm://` link of a shared file (XEP-0454) and the name a received file is saved under.

A shared file's IV and key travel only inside the OMEMO-encrypted body, as the fragment of
`aesgcm://host/path#<iv hex><key hex>` (88 hex digits: 24 for the 12-byte IV, 64 for the
256-bit key; the 16-byte-IV links of old clients are refused). A body is a file message only
when it is exactly one such link. `safe_name` turns the link's last path segment (a
stranger's text) into a plain file name that cannot leave the directory it is saved in.

This module loads no cryptography library (the `history` and `listen` commands use it to
print file messages and stay light); the cipher is `protocol.media`.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from tui_omemo.protocol.errors import ProtocolError

SCHEME = "aesgcm"
IV_SIZE = 12
KEY_SIZE = 32
TAG_SIZE = 16
FRAGMENT_LENGTH = 2 * (IV_SIZE + KEY_SIZE)

_FRAGMENT = re.compile(r"[0-9a-fA-F]+")


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


def carries_key(text: str) -> bool:
    """True when `text` holds an `aesgcm://` link anywhere: such a text is never sent
    unencrypted (the link's fragment is a file's key)."""
    return f"{SCHEME}://" in text.lower()


_KEYED_LINK = re.compile(r"(aesgcm://[^\s#]*)#\S*", re.IGNORECASE)


def search_text(body: str) -> str | None:
    """What full-text search indexes and shows for `body` instead of the body itself, None
    when that is the body: a file message's name (as shown, `safe_name`; the link is a key),
    or a text with each `aesgcm://` link's fragment cut off."""
    link = file_link(body)
    if link is not None:
        return safe_name(link.file_name)
    if carries_key(body):
        return _KEYED_LINK.sub(r"\1", body)
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


NAME_LIMIT = 200
"""Bytes (UTF-8) of a saved file name; common file systems allow 255."""
EXTENSION_LIMIT = 16
FALLBACK_NAME = "file"
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def safe_name(hint: str) -> str:
    """A file name derived from `hint` that is safe to create inside a directory.

    Path separators become `_`; control, format (bidi overrides) and unassigned characters
    are dropped; leading dots and white space (hidden files, `..`) and trailing dots and white
    space go; an empty result becomes `file`; the name is cut to `NAME_LIMIT` bytes, keeping a
    short extension.
    """
    text = unicodedata.normalize("NFC", hint)
    text = text.replace("/", "_").replace("\\", "_")
    text = "".join(c for c in text if unicodedata.category(c) not in _DROPPED_CATEGORIES)
    text = " ".join(text.split())
    text = text.lstrip(". ").rstrip(". ")
    return _shorten(text) or FALLBACK_NAME


def _shorten(name: str) -> str:
    """Cut `name` to NAME_LIMIT UTF-8 bytes, keeping its extension when that is short."""
    if len(name.encode()) <= NAME_LIMIT:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > EXTENSION_LIMIT:
        stem, extension = name, ""
    suffix = f".{extension}" if extension else ""
    budget = NAME_LIMIT - len(suffix.encode())
    cut = stem.encode()[:budget].decode(errors="ignore").rstrip(". ")
    return f"{cut}{suffix}" if cut else FALLBACK_NAME


def numbered(name: str, number: int) -> str:
    """`name` with ` (number)` before its extension (`a.txt` → `a (1).txt`); 0 is `name`."""
    if number == 0:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        return f"{name} ({number})"
    return f"{stem} ({number}).{extension}"
