"""What differs between OMEMO 0.3 and OMEMO 2, behind one interface.

The engine and the session logic are written once against `Version`; `legacy.LEGACY` and
`v2.V2` implement it with each version's constants, key encodings, wire framing and payload
crypto. `versions.version_for(namespace)` picks one (in its own module: the implementations
import this one, so this one imports neither).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import x3dh

from tui_omemo.model import Namespace
from tui_omemo.protocol.elements import WireBundle
from tui_omemo.protocol.ratchet import RatchetAEAD, RatchetMessage, RatchetParameters, RootKDF

DEVICE_ID_MIN = 1
DEVICE_ID_MAX = 2**31 - 1


class KeyExchange(NamedTuple):
    """A parsed key exchange (0.3 PreKeyWhisperMessage / 2 OMEMOKeyExchange); a `NamedTuple`
    because one is built per message and device while sessions are unconfirmed.

    Attributes:
        pre_key_id: the prekey used (None if the sender used none: we reject that).
        signed_pre_key_id: the signed prekey used.
        identity_key: the sender's identity key as on the wire (0.3: 33 B `0x05‖curve`;
            2: 32 B Ed25519).
        ephemeral_key: the sender's ephemeral key, raw 32 B Curve25519.
        message: the inner ratchet message, as on the wire.
    """

    pre_key_id: int | None
    signed_pre_key_id: int
    identity_key: bytes
    ephemeral_key: bytes
    message: bytes


@dataclass(frozen=True, slots=True)
class ParsedBundle:
    """A validated peer bundle in x3dh's terms, with the ids that x3dh does not know about.

    Attributes:
        bundle: Ed25519 identity key, raw signed prekey, the signature without sign bit, raw
            prekeys.
        identity_key_curve: the identity key in Curve25519 form (trust and fingerprints).
        signed_pre_key_id: the signed prekey's id.
        pre_key_ids: raw prekey → id.
    """

    bundle: x3dh.Bundle
    identity_key_curve: bytes
    signed_pre_key_id: int
    pre_key_ids: Mapping[bytes, int]


class Version(ABC):
    """One OMEMO version's constants and encodings."""

    namespace: ClassVar[Namespace]
    min_pre_keys: ClassVar[int]
    state_class: ClassVar[type[x3dh.BaseState]]
    x3dh_info: ClassVar[bytes]
    root_kdf: ClassVar[type[RootKDF]]
    aead: ClassVar[type[RatchetAEAD]]
    swaps_associated_data: ClassVar[bool]

    def ratchet(self, max_skipped: int) -> RatchetParameters:
        """The doubleratchet parameters of this version."""
        return RatchetParameters(self.root_kdf, self.aead, max_skipped)

    def message_associated_data(self, ad: bytes, *, active: bool, sending: bool) -> bytes:
        """The AD for one ratchet message from X3DH's `IK_initiator‖IK_responder`.

        0.3 MACs `sender‖receiver`, so the halves swap when the responder sends or the initiator
        receives; OMEMO 2 never swaps.
        """
        if not self.swaps_associated_data or active == sending:
            return ad
        half = len(ad) // 2
        return ad[half:] + ad[:half]

    @abstractmethod
    def bundle_to_wire(
        self, bundle: x3dh.Bundle, signed_pre_key_id: int, pre_key_ids: Mapping[bytes, int]
    ) -> WireBundle:
        """Our x3dh bundle (Ed25519 identity key) as this version publishes it."""

    @abstractmethod
    def parse_bundle(self, wire: WireBundle) -> ParsedBundle:
        """Validate a peer's bundle (lengths, prefixes, signature, prekey count).

        Raises:
            InvalidBundle: with the reason.
        """

    @abstractmethod
    def wire_identity_key(self, identity_key_ed: bytes) -> bytes:
        """Our Ed25519 identity key as it travels in a key exchange of this version."""

    @abstractmethod
    def x3dh_ad_key(self, identity_key_ed: bytes, identity_key_curve: bytes) -> bytes:
        """An identity key (given in both forms) as X3DH encodes it in the AD (0.3: `0x05‖curve`;
        2: Ed25519)."""

    @abstractmethod
    def x3dh_identity_key(self, wire_identity_key: bytes) -> bytes:
        """A key exchange's identity key in the Ed25519 form x3dh works with.

        Raises:
            MalformedMessage: wrong length or prefix.
        """

    @abstractmethod
    def curve_identity_key(self, wire_identity_key: bytes) -> bytes:
        """A wire identity key (bundle or key exchange) in Curve25519 form."""

    @abstractmethod
    def build_key_exchange(self, exchange: KeyExchange, sender_device_id: int) -> bytes:
        """Serialize a key exchange around an already framed ratchet message."""

    @abstractmethod
    def parse_key_exchange(self, data: bytes) -> KeyExchange:
        """Parse a key exchange.

        Raises:
            MalformedMessage: for anything malformed.
        """

    def parse_message(self, data: bytes) -> RatchetMessage:
        """Parse a wire ratchet message once: its header, and the parts the AEAD checks.

        Raises:
            MalformedMessage: for anything malformed.
        """
        return self.aead.parse(data)

    @abstractmethod
    def encrypt_payload(self, plaintext: bytes) -> tuple[bytes, bytes | None, bytes]:
        """Encrypt a payload once for all devices.

        Returns:
            The key material to ratchet-encrypt per device, the `<iv>` (0.3) or None, the
            `<payload>` bytes.
        """

    @abstractmethod
    def decrypt_payload(self, key_material: bytes, iv: bytes | None, payload: bytes) -> bytes:
        """Decrypt a payload with the key material from the ratchet.

        Raises:
            AuthenticationFailed, MalformedMessage, UnsupportedKeyMaterial.
        """

    @abstractmethod
    def empty_key_material(self) -> bytes:
        """The ratchet plaintext of an empty (key-transport) message."""

    @abstractmethod
    def empty_iv(self) -> bytes | None:
        """The `<iv>` an empty message carries (0.3: a fresh one; 2: None)."""

    @abstractmethod
    def check_empty_key_material(self, key_material: bytes) -> None:
        """Accept or reject the key material of a received empty message.

        Raises:
            MalformedMessage: of a length no client sends.
        """
