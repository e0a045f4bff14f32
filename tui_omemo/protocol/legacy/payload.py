"""OMEMO 0.3 payload crypto: AES-128-GCM, with `key(16) ‖ tag(16)` sent through the ratchet.

Sending: a fresh 16-byte key and 12-byte IV; `<payload>` is the GCM ciphertext without its tag;
the ratchet carries `key ‖ tag` (32 bytes). Receiving accepts a 12- or 16-byte IV (older
Conversations used 16; Monal only accepts 12, so we send 12).

Decision on the old 16-byte key format (key through the ratchet, tag appended to `<payload>`):
**rejected** with `UnsupportedKeyMaterial`. Reasons: DESIGN.md §3 invariant 6 requires 0.3 key
material to be the 32-byte `key‖tag` form; in the old form the tag is not covered by the
ratchet's MAC, so whoever can change the payload can also change where "ciphertext" ends, and
accepting it would give every caller a second, weaker success path to check a flag for. No
client we interoperate with has sent it for years (Conversations, Dino, Gajim and Monal all send
`key‖tag`). A 16-byte key *without* a payload is an ordinary empty (key-transport) message and is
accepted.
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tui_omemo.protocol.errors import AuthenticationFailed, MalformedMessage, UnsupportedKeyMaterial

KEY_SIZE = 16
TAG_SIZE = 16
IV_SIZE = 12
ACCEPTED_IV_SIZES = (12, 16)


def encrypt(plaintext: bytes) -> tuple[bytes, bytes, bytes]:
    """Encrypt `plaintext` (the body's UTF-8 bytes).

    Returns:
        `key‖tag` (32 B) for the ratchet, the 12-byte IV, the tagless ciphertext.
    """
    key = secrets.token_bytes(KEY_SIZE)
    iv = secrets.token_bytes(IV_SIZE)
    sealed = AESGCM(key).encrypt(iv, plaintext, None)
    return key + sealed[-TAG_SIZE:], iv, sealed[:-TAG_SIZE]


def decrypt(key_material: bytes, iv: bytes | None, payload: bytes) -> bytes:
    """Decrypt a payload with `key‖tag` from the ratchet.

    Raises:
        UnsupportedKeyMaterial: 16-byte key material (tag at the end of the payload).
        MalformedMessage: other key material lengths, missing or odd-sized IV.
        AuthenticationFailed: the GCM tag does not verify.
    """
    if len(key_material) == KEY_SIZE:
        raise UnsupportedKeyMaterial("16-byte 0.3 key material with the tag in the payload")
    if len(key_material) != KEY_SIZE + TAG_SIZE:
        raise MalformedMessage(f"0.3 key material of {len(key_material)} bytes")
    if iv is None or len(iv) not in ACCEPTED_IV_SIZES:
        raise MalformedMessage("0.3 message without a 12- or 16-byte IV")
    key, tag = key_material[:KEY_SIZE], key_material[KEY_SIZE:]
    try:
        return AESGCM(key).decrypt(iv, payload + tag, None)
    except InvalidTag as error:
        raise AuthenticationFailed("AES-GCM tag mismatch") from error


def new_iv() -> bytes:
    """A fresh 12-byte IV (key-transport messages carry one too)."""
    return secrets.token_bytes(IV_SIZE)


def empty_key_material() -> bytes:
    """A fresh random 16-byte key: the ratchet plaintext of a 0.3 key-transport message."""
    return secrets.token_bytes(KEY_SIZE)


def check_empty_key_material(key_material: bytes) -> None:
    """Key-transport messages carry 16 bytes (some clients 32: `key‖tag` of nothing).

    Raises:
        MalformedMessage: any other length.
    """
    if len(key_material) not in (KEY_SIZE, KEY_SIZE + TAG_SIZE):
        raise MalformedMessage(f"0.3 key-transport material of {len(key_material)} bytes")
