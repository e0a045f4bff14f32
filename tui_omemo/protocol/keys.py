"""Curve25519 helpers shared by the prekey state, X3DH and the ratchet fast path.

`curve_pub(priv)` derives a public key, the most frequent expensive step of the core (a prekey's
public key is needed for the bundle, for finding the prekey a key exchange names, and a ratchet's
own public key for every message header). Its results are memoised: the value is a pure function of
its input, so the memo can never serve anything stale, whatever an operation later commits or
drops. The memo is keyed by SHA-256 of the private key, never by the key itself, so that it keeps
no private key alive in memory (forward secrecy against a later memory dump is unchanged); it
holds at most `_MEMO_SIZE` entries and forgets the oldest first.
"""

from __future__ import annotations

import secrets
from hashlib import sha256

import xeddsa

_MEMO_SIZE = 16384
_public_keys: dict[bytes, bytes] = {}

CURVE25519_P = 2**255 - 19


def curve_pub(priv: bytes) -> bytes:
    """The Curve25519 public key of a 32-byte private key (clamped by xeddsa)."""
    tag = sha256(priv).digest()
    pub = _public_keys.get(tag)
    if pub is None:
        pub = xeddsa.priv_to_curve25519_pub(priv)
        remember_pub(priv, pub, tag)
    return pub


def remember_pub(priv: bytes, pub: bytes, tag: bytes | None = None) -> None:
    """Record a public key computed elsewhere for `priv` (it must be `priv`'s)."""
    if len(_public_keys) >= _MEMO_SIZE:
        del _public_keys[next(iter(_public_keys))]
    _public_keys[tag if tag is not None else sha256(priv).digest()] = pub


def new_key_pair() -> tuple[bytes, bytes]:
    """A fresh X25519 key pair (private key from `secrets`), public key memoised."""
    priv = secrets.token_bytes(32)
    return priv, curve_pub(priv)


def is_canonical(pub: bytes) -> bool:
    """Whether a 32-byte Curve25519 public key is the canonical encoding of its u (u < p)."""
    return int.from_bytes(pub, "little") < CURVE25519_P
