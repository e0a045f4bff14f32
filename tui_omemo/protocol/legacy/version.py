"""OMEMO 0.3 (`eu.siacs.conversations.axolotl`): constants, key encodings and bundle handling.

x3dh runs with Ed25519-form identity keys for both versions; the 0.3 wire carries the Curve25519
form with the Ed25519 sign bit in the top bit of signature byte 63 (libsignal's convention).
Publishing sets that bit from our Ed25519 key; parsing reads it, clears it and rebuilds the
Ed25519 key with that sign. A key exchange carries only the Curve form: any sign bit gives the same
X3DH result, so the passive side uses 0 and identity keys are compared by their Curve form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import doubleratchet
import x3dh
import xeddsa

from tui_omemo.model import Namespace
from tui_omemo.protocol.bundles import check_ids, verify_signature
from tui_omemo.protocol.elements import WireBundle
from tui_omemo.protocol.errors import InvalidBundle, MalformedMessage
from tui_omemo.protocol.legacy import payload, wire
from tui_omemo.protocol.ratchet import (
    MessageKeys,
    RatchetAEAD,
    RatchetMessage,
    RootKDF,
    hmac_sha256,
)
from tui_omemo.protocol.version import KeyExchange, ParsedBundle, Version


class LegacyState(x3dh.BaseState):
    """x3dh state for 0.3: keys encode as `0x05 ‖ Curve25519`."""

    @staticmethod
    def _encode_public_key(key_format: x3dh.IdentityKeyFormat, pub: bytes) -> bytes:
        if key_format is x3dh.IdentityKeyFormat.ED_25519:
            pub = xeddsa.ed25519_pub_to_curve25519_pub(pub)
        return wire.prefixed(pub)


class LegacyRootKDF(RootKDF):
    """Root chain KDF with info "WhisperRatchet"."""

    INFO: ClassVar[bytes] = b"WhisperRatchet"


class LegacyAEAD(RatchetAEAD):
    """WhisperMessage framing: `0x33 ‖ protobuf ‖ HMAC(ad ‖ 0x33 ‖ protobuf)[:8]`."""

    INFO: ClassVar[bytes] = b"WhisperMessageKeys"

    @classmethod
    def _frame(
        cls, header: doubleratchet.Header, ciphertext: bytes, keys: MessageKeys, ad: bytes
    ) -> bytes:
        body = wire.encode_whisper_body(
            header.ratchet_pub,
            header.sending_chain_length,
            header.previous_sending_chain_length,
            ciphertext,
        )
        return body + hmac_sha256(keys.authentication_key, ad + body)[: wire.MAC_SIZE]

    @classmethod
    def parse(cls, data: bytes) -> RatchetMessage:
        message = wire.parse_whisper(data)
        header = doubleratchet.Header(
            message.ratchet_key, message.previous_counter, message.counter
        )
        return RatchetMessage(header, data, message.authenticated, message.mac, message.ciphertext)


def _unprefix_bundle_key(key: bytes, what: str) -> bytes:
    try:
        return wire.unprefixed(key)
    except MalformedMessage as error:
        raise InvalidBundle(f"{what}: not a 33-byte 0x05-prefixed key") from error


class LegacyVersion(Version):
    """OMEMO 0.3."""

    namespace: ClassVar[Namespace] = Namespace.LEGACY
    min_pre_keys: ClassVar[int] = 20
    state_class: ClassVar[type[x3dh.BaseState]] = LegacyState
    x3dh_info: ClassVar[bytes] = b"WhisperText"
    root_kdf: ClassVar[type[RootKDF]] = LegacyRootKDF
    aead: ClassVar[type[RatchetAEAD]] = LegacyAEAD
    swaps_associated_data: ClassVar[bool] = True

    def bundle_to_wire(
        self, bundle: x3dh.Bundle, signed_pre_key_id: int, pre_key_ids: Mapping[bytes, int]
    ) -> WireBundle:
        signature = bytearray(bundle.signed_pre_key_sig)
        signature[63] |= bundle.identity_key[31] & 0x80
        return WireBundle(
            namespace=self.namespace,
            identity_key=self.wire_identity_key(bundle.identity_key),
            signed_pre_key=wire.prefixed(bundle.signed_pre_key),
            signed_pre_key_id=signed_pre_key_id,
            signed_pre_key_signature=bytes(signature),
            pre_keys={pre_key_ids[pub]: wire.prefixed(pub) for pub in bundle.pre_keys},
        )

    def parse_bundle(self, wire_bundle: WireBundle) -> ParsedBundle:
        identity_curve = _unprefix_bundle_key(wire_bundle.identity_key, "identity key")
        signed_pre_key = _unprefix_bundle_key(wire_bundle.signed_pre_key, "signed prekey")
        if len(wire_bundle.signed_pre_key_signature) != 64:
            raise InvalidBundle("signed prekey signature is not 64 bytes")
        check_ids(wire_bundle.signed_pre_key_id, wire_bundle.pre_keys, self.min_pre_keys)
        pre_keys = {
            _unprefix_bundle_key(key, "prekey"): key_id
            for key_id, key in wire_bundle.pre_keys.items()
        }
        signature = bytearray(wire_bundle.signed_pre_key_signature)
        sign_bit = bool(signature[63] & 0x80)
        signature[63] &= 0x7F
        try:
            identity_ed = xeddsa.curve25519_pub_to_ed25519_pub(identity_curve, sign_bit)
        except Exception as error:  # xeddsa raises for non-points
            raise InvalidBundle("unusable identity key") from error
        verify_signature(identity_ed, bytes(signature), wire.prefixed(signed_pre_key))
        return ParsedBundle(
            bundle=x3dh.Bundle(identity_ed, signed_pre_key, bytes(signature), frozenset(pre_keys)),
            identity_key_curve=identity_curve,
            signed_pre_key_id=wire_bundle.signed_pre_key_id,
            pre_key_ids=pre_keys,
        )

    def wire_identity_key(self, identity_key_ed: bytes) -> bytes:
        return wire.prefixed(xeddsa.ed25519_pub_to_curve25519_pub(identity_key_ed))

    def x3dh_ad_key(self, identity_key_ed: bytes, identity_key_curve: bytes) -> bytes:
        return wire.prefixed(identity_key_curve)

    def x3dh_identity_key(self, wire_identity_key: bytes) -> bytes:
        curve = wire.unprefixed(wire_identity_key)
        try:
            return xeddsa.curve25519_pub_to_ed25519_pub(curve, False)
        except Exception as error:  # xeddsa raises for non-points
            raise MalformedMessage("unusable identity key") from error

    def curve_identity_key(self, wire_identity_key: bytes) -> bytes:
        return wire.unprefixed(wire_identity_key)

    def build_key_exchange(self, exchange: KeyExchange, sender_device_id: int) -> bytes:
        return wire.encode_pre_key_whisper(
            wire.PreKeyWhisperMessage(
                pre_key_id=exchange.pre_key_id,
                base_key=exchange.ephemeral_key,
                identity_key=wire.unprefixed(exchange.identity_key),
                message=exchange.message,
                registration_id=sender_device_id,
                signed_pre_key_id=exchange.signed_pre_key_id,
            )
        )

    def parse_key_exchange(self, data: bytes) -> KeyExchange:
        message = wire.parse_pre_key_whisper(data)
        return KeyExchange(
            pre_key_id=message.pre_key_id,
            signed_pre_key_id=message.signed_pre_key_id,
            identity_key=wire.prefixed(message.identity_key),
            ephemeral_key=message.base_key,
            message=message.message,
        )

    def encrypt_payload(self, plaintext: bytes) -> tuple[bytes, bytes | None, bytes]:
        return payload.encrypt(plaintext)

    def decrypt_payload(self, key_material: bytes, iv: bytes | None, data: bytes) -> bytes:
        return payload.decrypt(key_material, iv, data)

    def empty_key_material(self) -> bytes:
        return payload.empty_key_material()

    def empty_iv(self) -> bytes | None:
        return payload.new_iv()

    def check_empty_key_material(self, key_material: bytes) -> None:
        payload.check_empty_key_material(key_material)


LEGACY = LegacyVersion()
