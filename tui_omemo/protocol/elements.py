"""Version-neutral values for what OMEMO puts on the wire, as bytes before base64.

`xmpp/` turns these into XML and back (base64, element and attribute names per namespace);
the protocol core produces and consumes them. Every bytes field here holds exactly what goes
between the base64 of the XML element, in the encoding of the element's namespace:

* 0.3 (`Namespace.LEGACY`): public keys are 33 bytes `0x05‖key`, the identity key in Curve25519
  form, the signed-prekey signature carries the Ed25519 sign bit in the top bit of byte 63.
* 2 (`Namespace.V2`): public keys are raw 32 bytes, the identity key in Ed25519 form.

See ../shared/OMEMO-WIRE.md §3 and §4.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tui_omemo.model import Namespace


@dataclass(frozen=True, slots=True)
class WireBundle:
    """One device's published bundle (0.3: node `…bundles:<id>`; 2: item `<id>` of one node).

    Attributes:
        namespace: which version this bundle is for.
        identity_key: `<identityKey>` (0.3, 33 B) / `<ik>` (2, 32 B Ed25519).
        signed_pre_key: `<signedPreKeyPublic>` (33 B) / `<spk>` (32 B).
        signed_pre_key_id: the `signedPreKeyId` / `id` attribute.
        signed_pre_key_signature: `<signedPreKeySignature>` / `<spks>`, 64 B.
        pre_keys: prekey id → `<preKeyPublic>` (33 B) / `<pk>` (32 B).
    """

    namespace: Namespace
    identity_key: bytes
    signed_pre_key: bytes
    signed_pre_key_id: int
    signed_pre_key_signature: bytes
    pre_keys: Mapping[int, bytes]


@dataclass(frozen=True, slots=True)
class DeviceListEntry:
    """One `<device>` of a device list. `label`/`label_signature` exist only in OMEMO 2."""

    device_id: int
    label: str | None = None
    label_signature: bytes | None = None


@dataclass(frozen=True, slots=True)
class DeviceList:
    """A device list as published under the namespace's device-list node, item `current`."""

    namespace: Namespace
    devices: tuple[DeviceListEntry, ...]

    @property
    def device_ids(self) -> frozenset[int]:
        """The ids on the list."""
        return frozenset(entry.device_id for entry in self.devices)


@dataclass(frozen=True, slots=True)
class KeyElement:
    """One `<key>`: the ratchet message for one recipient device.

    Attributes:
        bare_jid: the recipient's bare JID. OMEMO 2 groups keys by `<keys jid=…>`; 0.3 has no JID
            on the wire, so received 0.3 keys carry None.
        device_id: the `rid` attribute.
        data: the base64-decoded content: 0.3 WhisperMessage / PreKeyWhisperMessage, 2
            OMEMOAuthenticatedMessage / OMEMOKeyExchange.
        key_exchange: 0.3 `prekey="true"` / 2 `kex="true"` (`1` accepted on parse).
    """

    bare_jid: str | None
    device_id: int
    data: bytes
    key_exchange: bool = False


@dataclass(frozen=True, slots=True)
class EncryptedElement:
    """An `<encrypted>` element.

    Attributes:
        namespace: the element's namespace.
        sender_device_id: `<header sid=…>`.
        keys: every `<key>`, in document order.
        iv: `<iv>` (0.3 only: 12 bytes sent, 12 or 16 accepted); None for OMEMO 2.
        payload: `<payload>`; None for an empty (key-transport) message.
    """

    namespace: Namespace
    sender_device_id: int
    keys: tuple[KeyElement, ...]
    iv: bytes | None = None
    payload: bytes | None = None

    def key_for(self, device_id: int) -> KeyElement | None:
        """The key addressed to `device_id`, or None when the message is not for that device."""
        return next((key for key in self.keys if key.device_id == device_id), None)
