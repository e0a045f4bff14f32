"""X3DH key agreement (both roles), computed directly from the keys the engine already holds.

x3dh's `BaseState` derives every public key it touches on each call (all prekey public keys to
find one, the Ed25519 identity key twice, the signed prekey's public key) and checks a bundle
signature the engine has already checked in `Version.parse_bundle`. These two functions do the
same agreement with only the four Diffie-Hellman operations and one HKDF, and give byte-identical
results (OMEMO-WIRE.md §2.1; the interop tests run them against oldmemo/twomemo):

    SK = HKDF-SHA-256(salt = 0×32, info, 0xFF×32 ‖ DH1 ‖ DH2 ‖ DH3 ‖ DH4), 32 bytes
    AD = encode(IK_initiator) ‖ encode(IK_responder)

`encode` is the version's identity key encoding (`Version.x3dh_ad_key`). Unusable public keys
(e.g. of low order) raise `xeddsa.XEdDSAException`, as they do inside x3dh.
"""

from __future__ import annotations

import xeddsa

from tui_omemo.protocol.ratchet import hkdf_sha256

_PADDING = b"\xff" * 32


def _shared_secret(info: bytes, dh1: bytes, dh2: bytes, dh3: bytes, dh4: bytes) -> bytes:
    return hkdf_sha256(_PADDING + dh1 + dh2 + dh3 + dh4, info, 32)


def agree_active(
    info: bytes,
    *,
    own_identity_priv: bytes,
    ephemeral_priv: bytes,
    peer_identity_curve: bytes,
    signed_pre_key: bytes,
    pre_key: bytes,
) -> bytes:
    """The initiator's shared secret (the caller builds the AD and the header)."""
    return _shared_secret(
        info,
        xeddsa.x25519(own_identity_priv, signed_pre_key),
        xeddsa.x25519(ephemeral_priv, peer_identity_curve),
        xeddsa.x25519(ephemeral_priv, signed_pre_key),
        xeddsa.x25519(ephemeral_priv, pre_key),
    )


def agree_passive(
    info: bytes,
    *,
    own_identity_priv: bytes,
    signed_pre_key_priv: bytes,
    pre_key_priv: bytes,
    peer_identity_curve: bytes,
    ephemeral_key: bytes,
) -> bytes:
    """The responder's shared secret."""
    return _shared_secret(
        info,
        xeddsa.x25519(signed_pre_key_priv, peer_identity_curve),
        xeddsa.x25519(own_identity_priv, ephemeral_key),
        xeddsa.x25519(signed_pre_key_priv, ephemeral_key),
        xeddsa.x25519(pre_key_priv, ephemeral_key),
    )
