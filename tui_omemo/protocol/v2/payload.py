"""OMEMO 2 payload crypto: HKDF("OMEMO Payload") → AES-256-CBC + HMAC-SHA-256/16.

The plaintext is the serialized SCE envelope the caller gives (XML stays in `xmpp/`). The ratchet
carries `key(32) ‖ tag(16)`; the tag covers only the CBC ciphertext. Empty messages put 32 zero
bytes through the ratchet and carry no payload.
"""

from __future__ import annotations

import hmac
import secrets

from tui_omemo.protocol.errors import AuthenticationFailed, MalformedMessage
from tui_omemo.protocol.ratchet import aes_cbc_decrypt, aes_cbc_encrypt, hkdf_sha256, hmac_sha256

KEY_SIZE = 32
TAG_SIZE = 16
INFO = b"OMEMO Payload"


def _derive(key: bytes) -> tuple[bytes, bytes, bytes]:
    material = hkdf_sha256(key, INFO, 80)
    return material[:32], material[32:64], material[64:]


def encrypt(plaintext: bytes) -> tuple[bytes, bytes]:
    """Encrypt an SCE envelope.

    Returns:
        `key‖tag` (48 B) for the ratchet, and the `<payload>` ciphertext.
    """
    key = secrets.token_bytes(KEY_SIZE)
    encryption_key, authentication_key, iv = _derive(key)
    ciphertext = aes_cbc_encrypt(encryption_key, iv, plaintext)
    tag = hmac_sha256(authentication_key, ciphertext)[:TAG_SIZE]
    return key + tag, ciphertext


def decrypt(key_material: bytes, payload: bytes) -> bytes:
    """Check the tag, then decrypt.

    Raises:
        MalformedMessage: key material not 48 bytes, or bad CBC ciphertext/padding.
        AuthenticationFailed: the HMAC does not verify.
    """
    if len(key_material) != KEY_SIZE + TAG_SIZE:
        raise MalformedMessage(f"OMEMO 2 key material of {len(key_material)} bytes")
    key, tag = key_material[:KEY_SIZE], key_material[KEY_SIZE:]
    encryption_key, authentication_key, iv = _derive(key)
    if not hmac.compare_digest(hmac_sha256(authentication_key, payload)[:TAG_SIZE], tag):
        raise AuthenticationFailed("payload HMAC mismatch")
    try:
        return aes_cbc_decrypt(encryption_key, iv, payload)
    except ValueError as error:
        raise MalformedMessage("bad payload ciphertext") from error


def empty_key_material() -> bytes:
    """32 zero bytes: the ratchet plaintext of an OMEMO 2 empty message."""
    return bytes(KEY_SIZE)


def check_empty_key_material(key_material: bytes) -> None:
    """Empty messages carry 32 bytes (zeros by the XEP; the content is not checked).

    Raises:
        MalformedMessage: any other length.
    """
    if len(key_material) != KEY_SIZE:
        raise MalformedMessage(f"OMEMO 2 empty-message material of {len(key_material)} bytes")
