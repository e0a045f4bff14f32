"""Checks shared by both versions' bundle parsers."""

from __future__ import annotations

from collections.abc import Mapping

import xeddsa

from tui_omemo.protocol.errors import InvalidBundle

_UINT32_MAX = 2**32 - 1


def check_ids(signed_pre_key_id: int, pre_key_ids: Mapping[int, bytes], minimum: int) -> None:
    """Ids must be uint32, prekeys at least `minimum` and pairwise distinct.

    Raises:
        InvalidBundle: otherwise.
    """
    if not 0 <= signed_pre_key_id <= _UINT32_MAX:
        raise InvalidBundle("signed prekey id out of range")
    if any(not 0 <= key_id <= _UINT32_MAX for key_id in pre_key_ids):
        raise InvalidBundle("prekey id out of range")
    if len(pre_key_ids) < minimum:
        raise InvalidBundle(f"{len(pre_key_ids)} prekeys, fewer than {minimum}")
    if len(set(pre_key_ids.values())) != len(pre_key_ids):
        raise InvalidBundle("the same prekey under two ids")


def verify_signature(identity_key_ed: bytes, signature: bytes, message: bytes) -> None:
    """Verify the signed prekey signature.

    Raises:
        InvalidBundle: bad signature or unusable key.
    """
    try:
        valid = xeddsa.ed25519_verify(signature, identity_key_ed, message)
    except Exception as error:  # xeddsa raises for points that do not decode
        raise InvalidBundle("unusable identity key") from error
    if not valid:
        raise InvalidBundle("bad signed prekey signature")
