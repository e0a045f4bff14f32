"""OMEMO 2 (`urn:xmpp:omemo:2`): constants, key encodings and bundle handling.

Keys are raw 32 bytes; the identity key is Ed25519 everywhere on the wire and in the AD, and the
signed prekey signature is a plain Ed25519 signature over the raw 32-byte signed prekey.
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
from tui_omemo.protocol.ratchet import (
    MessageKeys,
    RatchetAEAD,
    RatchetMessage,
    RootKDF,
    hmac_sha256,
)
from tui_omemo.protocol.v2 import payload, wire
from tui_omemo.protocol.version import KeyExchange, ParsedBundle, Version


class V2State(x3dh.BaseState):
    """x3dh state for OMEMO 2: keys encode as themselves."""

    @staticmethod
    def _encode_public_key(key_format: x3dh.IdentityKeyFormat, pub: bytes) -> bytes:
        return pub


class V2RootKDF(RootKDF):
    """Root chain KDF with info "OMEMO Root Chain"."""

    INFO: ClassVar[bytes] = b"OMEMO Root Chain"


class V2AEAD(RatchetAEAD):
    """OMEMOAuthenticatedMessage framing with a 16-byte MAC over `ad ‖ OMEMOMessage`."""

    INFO: ClassVar[bytes] = b"OMEMO Message Key Material"

    @classmethod
    def _frame(
        cls, header: doubleratchet.Header, ciphertext: bytes, keys: MessageKeys, ad: bytes
    ) -> bytes:
        message = wire.encode_message(
            wire.OMEMOMessage(
                header.sending_chain_length,
                header.previous_sending_chain_length,
                header.ratchet_pub,
                ciphertext,
            )
        )
        mac = hmac_sha256(keys.authentication_key, ad + message)[: wire.MAC_SIZE]
        return wire.encode_authenticated(wire.OMEMOAuthenticatedMessage(mac, message))

    @classmethod
    def parse(cls, data: bytes) -> RatchetMessage:
        authenticated = wire.parse_authenticated(data)
        message = wire.parse_message(authenticated.message)
        header = doubleratchet.Header(
            message.ratchet_key, message.previous_counter, message.counter
        )
        return RatchetMessage(
            header, data, authenticated.message, authenticated.mac, message.ciphertext
        )


def _check_length(key: bytes, what: str) -> bytes:
    if len(key) != 32:
        raise InvalidBundle(f"{what}: {len(key)} bytes, expected 32")
    return key


class V2Version(Version):
    """OMEMO 2."""

    namespace: ClassVar[Namespace] = Namespace.V2
    min_pre_keys: ClassVar[int] = 25
    state_class: ClassVar[type[x3dh.BaseState]] = V2State
    x3dh_info: ClassVar[bytes] = b"OMEMO X3DH"
    root_kdf: ClassVar[type[RootKDF]] = V2RootKDF
    aead: ClassVar[type[RatchetAEAD]] = V2AEAD
    swaps_associated_data: ClassVar[bool] = False

    def bundle_to_wire(
        self, bundle: x3dh.Bundle, signed_pre_key_id: int, pre_key_ids: Mapping[bytes, int]
    ) -> WireBundle:
        return WireBundle(
            namespace=self.namespace,
            identity_key=bundle.identity_key,
            signed_pre_key=bundle.signed_pre_key,
            signed_pre_key_id=signed_pre_key_id,
            signed_pre_key_signature=bundle.signed_pre_key_sig,
            pre_keys={pre_key_ids[pub]: pub for pub in bundle.pre_keys},
        )

    def parse_bundle(self, wire_bundle: WireBundle) -> ParsedBundle:
        identity_ed = _check_length(wire_bundle.identity_key, "identity key")
        signed_pre_key = _check_length(wire_bundle.signed_pre_key, "signed prekey")
        if len(wire_bundle.signed_pre_key_signature) != 64:
            raise InvalidBundle("signed prekey signature is not 64 bytes")
        check_ids(wire_bundle.signed_pre_key_id, wire_bundle.pre_keys, self.min_pre_keys)
        pre_keys = {
            _check_length(key, "prekey"): key_id for key_id, key in wire_bundle.pre_keys.items()
        }
        verify_signature(identity_ed, wire_bundle.signed_pre_key_signature, signed_pre_key)
        try:
            identity_curve = xeddsa.ed25519_pub_to_curve25519_pub(identity_ed)
        except Exception as error:  # xeddsa raises for non-points
            raise InvalidBundle("unusable identity key") from error
        return ParsedBundle(
            bundle=x3dh.Bundle(
                identity_ed,
                signed_pre_key,
                wire_bundle.signed_pre_key_signature,
                frozenset(pre_keys),
            ),
            identity_key_curve=identity_curve,
            signed_pre_key_id=wire_bundle.signed_pre_key_id,
            pre_key_ids=pre_keys,
        )

    def wire_identity_key(self, identity_key_ed: bytes) -> bytes:
        return identity_key_ed

    def x3dh_ad_key(self, identity_key_ed: bytes, identity_key_curve: bytes) -> bytes:
        return identity_key_ed

    def x3dh_identity_key(self, wire_identity_key: bytes) -> bytes:
        if len(wire_identity_key) != 32:
            raise MalformedMessage("identity key is not 32 bytes")
        return wire_identity_key

    def curve_identity_key(self, wire_identity_key: bytes) -> bytes:
        try:
            return xeddsa.ed25519_pub_to_curve25519_pub(wire_identity_key)
        except Exception as error:  # xeddsa raises for non-points
            raise MalformedMessage("unusable identity key") from error

    def build_key_exchange(self, exchange: KeyExchange, sender_device_id: int) -> bytes:
        return wire.encode_key_exchange(
            wire.OMEMOKeyExchange(
                pre_key_id=exchange.pre_key_id or 0,
                signed_pre_key_id=exchange.signed_pre_key_id,
                identity_key=exchange.identity_key,
                ephemeral_key=exchange.ephemeral_key,
                message=exchange.message,
            )
        )

    def parse_key_exchange(self, data: bytes) -> KeyExchange:
        exchange = wire.parse_key_exchange(data)
        return KeyExchange(
            exchange.pre_key_id,
            exchange.signed_pre_key_id,
            exchange.identity_key,
            exchange.ephemeral_key,
            exchange.message,
        )

    def encrypt_payload(self, plaintext: bytes) -> tuple[bytes, bytes | None, bytes]:
        key_material, ciphertext = payload.encrypt(plaintext)
        return key_material, None, ciphertext

    def decrypt_payload(self, key_material: bytes, iv: bytes | None, data: bytes) -> bytes:
        return payload.decrypt(key_material, data)

    def empty_key_material(self) -> bytes:
        return payload.empty_key_material()

    def empty_iv(self) -> bytes | None:
        return None

    def check_empty_key_material(self, key_material: bytes) -> None:
        payload.check_empty_key_material(key_material)


V2 = V2Version()
