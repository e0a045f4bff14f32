"""The XEP-0454 file cipher and the aesgcm:// link, without a network.

Pins: AES-256-GCM with a 12-byte IV and the 16-byte tag appended (checked against the
`cryptography` AEAD one-shot on the same key), streaming in both directions with chunks of any
size, a tampered or truncated blob refused by the tag, and the link's 88-hex-digit fragment.
"""

from __future__ import annotations

import io
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tui_omemo.protocol.media import (
    CHUNK_SIZE,
    BadMediaLink,
    Decryptor,
    EncryptingReader,
    MediaKey,
    MediaLink,
    MediaTagMismatch,
    file_link,
    parse_link,
)

KEY = MediaKey(bytes(range(12)), bytes(range(100, 132)))
FRAGMENT = KEY.fragment


def _encrypt(plain: bytes, key: MediaKey = KEY, read_size: int = 4096) -> bytes:
    reader = EncryptingReader(io.BytesIO(plain), key)
    parts = []
    while chunk := reader.read(read_size):
        parts.append(chunk)
    return b"".join(parts)


def _decrypt(blob: bytes, key: MediaKey = KEY, feed: int = 1000) -> bytes:
    decryptor = Decryptor(key)
    out = [decryptor.update(blob[i : i + feed]) for i in range(0, len(blob), feed)]
    out.append(decryptor.finish())
    return b"".join(out)


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, CHUNK_SIZE - 1, CHUNK_SIZE + 17])
def test_the_blob_is_aes_gcm_ciphertext_with_the_tag_appended(size: int) -> None:
    """What we upload is exactly what any XEP-0454 client decrypts with one AES-GCM call."""
    plain = os.urandom(size)
    blob = _encrypt(plain)
    assert blob == AESGCM(KEY.key).encrypt(KEY.iv, plain, None)


@pytest.mark.parametrize("feed", [1, 7, 16, 17, 65536])
def test_decryption_streams_in_chunks_of_any_size(feed: int) -> None:
    """The tag is found at the end whatever the chunking of the download."""
    plain = os.urandom(40_000)
    blob = AESGCM(KEY.key).encrypt(KEY.iv, plain, None)
    assert _decrypt(blob, feed=feed) == plain


def test_an_empty_file_round_trips() -> None:
    """0 bytes of plaintext: the blob is just the tag."""
    assert _decrypt(_encrypt(b"")) == b""


def test_a_flipped_bit_fails_the_tag() -> None:
    """A tampered ciphertext is refused at `finish()`."""
    blob = bytearray(_encrypt(b"x" * 1000))
    blob[10] ^= 1
    with pytest.raises(MediaTagMismatch):
        _decrypt(bytes(blob))


def test_a_truncated_blob_fails() -> None:
    """A download cut short (even shorter than a tag) is refused."""
    blob = _encrypt(b"hello world")
    with pytest.raises(MediaTagMismatch):
        _decrypt(blob[:-1])
    with pytest.raises(MediaTagMismatch):
        _decrypt(blob[:5])


def test_the_wrong_key_fails() -> None:
    """The blob only opens with its own key."""
    with pytest.raises(MediaTagMismatch):
        _decrypt(_encrypt(b"secret"), MediaKey.generate())


def test_every_file_gets_a_fresh_key_and_iv() -> None:
    """Keys come from the system's random source, never reused."""
    first, second = MediaKey.generate(), MediaKey.generate()
    assert first.key != second.key
    assert first.iv != second.iv


def test_the_reader_reports_progress_up_to_the_blob_size() -> None:
    """The progress callback ends at plaintext size + 16."""
    seen: list[int] = []
    reader = EncryptingReader(io.BytesIO(b"a" * 5000), KEY, seen.append)
    while reader.read(1024):
        pass
    assert seen[-1] == 5016


def test_a_link_round_trips() -> None:
    """format then parse gives back location and key."""
    link = MediaLink.for_upload("https://upload.example.org/share/abc/photo.jpg", KEY)
    text = link.text()
    assert text == f"aesgcm://upload.example.org/share/abc/photo.jpg#{FRAGMENT}"
    assert parse_link(text) == link
    assert len(FRAGMENT) == 88


def test_the_link_names_host_file_and_fetch_address() -> None:
    """The file name is the last path segment, percent-decoded; fetch over https."""
    link = parse_link(f"aesgcm://Example.ORG:5281/a/b/my%20file.pdf#{FRAGMENT}")
    assert link.host == "example.org"
    assert link.file_name == "my file.pdf"
    assert link.http_url() == "https://Example.ORG:5281/a/b/my%20file.pdf"
    assert link.http_url(plain=True).startswith("http://")


@pytest.mark.parametrize("length", [0, 24, 64, 87, 89, 96, 176])
def test_a_fragment_of_another_length_is_refused(length: int) -> None:
    """Only 88 hex digits (12-byte IV + 32-byte key) are a key: a 16-byte-IV link (96 digits,
    which old clients sent) is refused too, as the issue asks."""
    with pytest.raises(BadMediaLink):
        parse_link("aesgcm://example.org/f.txt#" + "a" * length)


@pytest.mark.parametrize(
    "text",
    [
        f"https://example.org/f.txt#{FRAGMENT}",
        "aesgcm://example.org/f.txt",
        f"aesgcm://example.org/f.txt#{'g' * 88}",
        f"aesgcm:///f.txt#{FRAGMENT}",
        f"aesgcm://example.org#{FRAGMENT}",
        f"look: aesgcm://example.org/f.txt#{FRAGMENT}",
        f"aesgcm://example.org/f.txt#{FRAGMENT} and more",
    ],
)
def test_anything_but_exactly_one_link_is_not_a_file(text: str) -> None:
    """A body is a file message only when it is exactly one well-formed aesgcm:// link."""
    assert file_link(text) is None


def test_a_link_with_surrounding_white_space_is_a_file() -> None:
    """A trailing newline (some clients add one) does not stop it being a file."""
    assert file_link(f"  aesgcm://example.org/f.txt#{FRAGMENT}\n") is not None


def test_keys_never_show_in_repr() -> None:
    """A logged link or key never prints the secret."""
    link = parse_link(f"aesgcm://example.org/f.txt#{FRAGMENT}")
    assert FRAGMENT[:24] not in repr(link)
    assert FRAGMENT[24:] not in repr(KEY)


def test_an_upload_address_with_a_fragment_or_other_scheme_is_refused() -> None:
    """The slot's address must be a plain web link."""
    with pytest.raises(BadMediaLink):
        MediaLink.for_upload("ftp://example.org/f", KEY)
    with pytest.raises(BadMediaLink):
        MediaLink.for_upload("https://example.org/f#x", KEY)
