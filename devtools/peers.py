"""Interop harness: python-omemo's `oldmemo`/`twomemo` backends as peers that speak our values.

An independent OMEMO implementation (test-only, OMEMO-WIRE.md §9.1) wrapped so that a test can
exchange `WireBundle` and `EncryptedElement` values with it, byte for byte as they would travel
inside the XML:

* `Peer.create(namespace, bare_jid, device_id)` runs an `Oldmemo` or `Twomemo` backend on an
  in-memory `omemo.storage.Storage`.
* `Peer.bundle()` is its bundle as a `WireBundle`, read back from the XML that
  `oldmemo.etree`/`twomemo.etree.serialize_bundle` writes (so the 0.3 sign-bit trick is theirs).
* `Peer.encrypt(...)` builds sessions from our `WireBundle`s (through their `parse_bundle`, which
  checks the schema and the sign bit) and returns an `EncryptedElement` with a `<key>` per
  recipient; like python-omemo it wraps keys in a key exchange until the session is confirmed.
* `Peer.decrypt(element, sender_bare_jid)` takes an element we produced: a key exchange builds a
  passive session (or reuses it for a repeated key exchange), anything else uses the stored
  session; then the payload is decrypted (0.3 AES-128-GCM, OMEMO 2 HKDF/CBC/HMAC of the envelope).

Our own engine is hosted on the in-memory ports of `devtools/fakes.py` (`FakeDevice`).

Nothing here is production code; the dependency rule forbids `tui_omemo` from importing these
packages.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import oldmemo
import oldmemo.etree
import twomemo
import twomemo.etree
from omemo.backend import Backend
from omemo.session import Initiation, Session
from omemo.storage import Just, Maybe, Nothing, Storage
from omemo.types import JSONType

from devtools.fakes import json_copy
from tui_omemo.model import DeviceRef, Namespace
from tui_omemo.protocol.elements import EncryptedElement, KeyElement, WireBundle

V2_EMPTY_KEY = b"\x00" * 32


class MemoryStorage(Storage):
    """`omemo.storage.Storage` in a dict, copying values both ways as our `MemoryStateStore`
    does (`devtools.fakes.json_copy`), so that both sides pay the same for their in-memory store."""

    def __init__(self) -> None:
        super().__init__(disable_cache=True)
        self.data: dict[str, JSONType] = {}

    async def _load(self, key: str) -> Maybe[JSONType]:
        if key in self.data:
            return Just(json_copy(self.data[key]))
        return Nothing()

    async def _store(self, key: str, value: JSONType) -> None:
        self.data[key] = json_copy(value)

    async def _delete(self, key: str) -> None:
        self.data.pop(key, None)


@dataclass(frozen=True, slots=True)
class _Names:
    """Element and attribute names of a bundle in one namespace."""

    spk: str
    spk_id: str
    spks: str
    ik: str
    pk: str
    pk_id: str


_NAMES = {
    Namespace.LEGACY: _Names(
        "signedPreKeyPublic",
        "signedPreKeyId",
        "signedPreKeySignature",
        "identityKey",
        "preKeyPublic",
        "preKeyId",
    ),
    Namespace.V2: _Names("spk", "id", "spks", "ik", "pk", "id"),
}


def bundle_from_xml(element: ET.Element, namespace: Namespace) -> WireBundle:
    """Read a `<bundle>` element into a `WireBundle` (base64 decoded, nothing else changed)."""
    names, ns = _NAMES[namespace], f"{{{namespace.value}}}"
    spk = _child(element, ns + names.spk)
    pre_keys = {int(_attr(pk, names.pk_id)): _b64(pk) for pk in element.iter(ns + names.pk)}
    return WireBundle(
        namespace=namespace,
        identity_key=_b64(_child(element, ns + names.ik)),
        signed_pre_key=_b64(spk),
        signed_pre_key_id=int(_attr(spk, names.spk_id)),
        signed_pre_key_signature=_b64(_child(element, ns + names.spks)),
        pre_keys=pre_keys,
    )


def bundle_to_xml(bundle: WireBundle) -> ET.Element:
    """Write a `WireBundle` as the `<bundle>` element its namespace publishes."""
    names, ns = _NAMES[bundle.namespace], f"{{{bundle.namespace.value}}}"
    root = ET.Element(ns + "bundle")
    spk = ET.SubElement(root, ns + names.spk, {names.spk_id: str(bundle.signed_pre_key_id)})
    spk.text = _enc(bundle.signed_pre_key)
    ET.SubElement(root, ns + names.spks).text = _enc(bundle.signed_pre_key_signature)
    ET.SubElement(root, ns + names.ik).text = _enc(bundle.identity_key)
    pre_keys = ET.SubElement(root, ns + "prekeys")
    for pre_key_id, pre_key in bundle.pre_keys.items():
        ET.SubElement(pre_keys, ns + names.pk, {names.pk_id: str(pre_key_id)}).text = _enc(pre_key)
    return root


def _child(element: ET.Element, tag: str) -> ET.Element:
    found = element.find(tag)
    assert found is not None, tag
    return found


def _attr(element: ET.Element, name: str) -> str:
    value = element.get(name)
    assert value is not None, name
    return value


def _b64(element: ET.Element) -> bytes:
    return base64.b64decode(element.text or "")


def _enc(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True, slots=True)
class PeerDecryption:
    """What a peer got out of one of our elements.

    Attributes:
        plaintext: the body (0.3) / envelope bytes (2); None for an empty message.
        key_material: the ratchet plaintext: 0.3 `key‖tag` (or a bare 16-byte key), 2 `key‖tag`.
        key_exchange: the key was a key exchange.
        new_session: a passive session was built (False for a repeated key exchange).
    """

    plaintext: bytes | None
    key_material: bytes
    key_exchange: bool
    new_session: bool


class Peer:
    """One python-omemo device (one namespace) that speaks our wire values."""

    def __init__(
        self, namespace: Namespace, bare_jid: str, device_id: int, storage: MemoryStorage
    ) -> None:
        """Use `Peer.create`."""
        self.namespace = namespace
        self.bare_jid = bare_jid
        self.device_id = device_id
        self.storage = storage
        self.backend: Backend = (
            oldmemo.Oldmemo(storage) if namespace is Namespace.LEGACY else twomemo.Twomemo(storage)
        )

    @classmethod
    async def create(
        cls,
        namespace: Namespace,
        bare_jid: str,
        device_id: int,
        pre_keys: int = 100,
        storage: MemoryStorage | None = None,
    ) -> Peer:
        """A new device with a fresh identity (or the one in `storage`) and `pre_keys` prekeys."""
        peer = cls(namespace, bare_jid, device_id, storage or MemoryStorage())
        await peer.backend.generate_pre_keys(pre_keys)
        return peer

    @property
    def ref(self) -> DeviceRef:
        """This device as a `DeviceRef`."""
        return DeviceRef(self.bare_jid, self.device_id)

    async def bundle(self) -> WireBundle:
        """Our bundle exactly as it would be published (through their etree serializer)."""
        their = await self.backend.get_bundle(self.bare_jid, self.device_id)
        if self.namespace is Namespace.LEGACY:
            assert isinstance(their, oldmemo.oldmemo.BundleImpl)
            return bundle_from_xml(oldmemo.etree.serialize_bundle(their), self.namespace)
        assert isinstance(their, twomemo.twomemo.BundleImpl)
        return bundle_from_xml(twomemo.etree.serialize_bundle(their), self.namespace)

    async def identity_key_ed25519(self) -> bytes:
        """The Ed25519 form of this device's identity key (its top bit is the sign bit)."""
        return (await self.backend.get_bundle(self.bare_jid, self.device_id)).identity_key

    async def sign_bit(self) -> int:
        """The Edwards sign bit of the identity key (what 0.3 smuggles into the SPK signature)."""
        return (await self.identity_key_ed25519())[31] >> 7

    def parse_bundle(self, bundle: WireBundle, bare_jid: str, device_id: int) -> Any:
        """Our `WireBundle` through their XML parser (schema check and 0.3 sign-bit recovery)."""
        assert bundle.namespace is self.namespace
        element = bundle_to_xml(bundle)
        if self.namespace is Namespace.LEGACY:
            return oldmemo.etree.parse_bundle(element, bare_jid, device_id)
        return twomemo.etree.parse_bundle(element, bare_jid, device_id)

    async def session(self, device: DeviceRef) -> Session | None:
        """The stored session with `device`, if any."""
        return await self.backend.load_session(device.bare_jid, device.device_id)

    async def encrypt(
        self,
        recipients: Iterable[DeviceRef],
        plaintext: bytes | None,
        bundles: Mapping[DeviceRef, WireBundle] | None = None,
    ) -> EncryptedElement:
        """Encrypt one message for several devices, building sessions from `bundles` as needed.

        Args:
            recipients: the devices that get a `<key>`.
            plaintext: 0.3 body / 2 envelope bytes; None for an empty message.
            bundles: the bundles of recipients without a session yet.

        Returns:
            The element as it would be parsed from the stanza (0.3 keys carry no JID).
        """
        if plaintext is None:
            content, key_material = await self.backend.encrypt_empty()
        else:
            content, key_material = await self.backend.encrypt_plaintext(plaintext)
        keys = [
            await self._key_for(device, key_material, (bundles or {}).get(device))
            for device in recipients
        ]
        return self._element(content, tuple(keys))

    async def _key_for(
        self, device: DeviceRef, key_material: Any, bundle: WireBundle | None
    ) -> KeyElement:
        """Encrypt `key_material` for one device (wrapping in a KEX until confirmed)."""
        session = await self.session(device)
        if session is None:
            assert bundle is not None, f"no session with {device} and no bundle"
            their_bundle = self.parse_bundle(bundle, device.bare_jid, device.device_id)
            session, encrypted = await self.backend.build_session_active(
                device.bare_jid, device.device_id, their_bundle, key_material
            )
        else:
            encrypted = await self.backend.encrypt_key_material(session, key_material)
        await self.backend.store_session(session)
        data: bytes = encrypted.serialize()  # type: ignore[attr-defined]
        key_exchange = session.initiation is Initiation.ACTIVE and not session.confirmed
        if key_exchange:
            serialized = session.key_exchange.serialize(data)  # type: ignore[attr-defined]
            data = serialized[0] if isinstance(serialized, tuple) else serialized
        jid = None if self.namespace is Namespace.LEGACY else device.bare_jid
        return KeyElement(jid, device.device_id, data, key_exchange)

    def _element(self, content: Any, keys: tuple[KeyElement, ...]) -> EncryptedElement:
        if self.namespace is Namespace.LEGACY:
            return EncryptedElement(
                namespace=self.namespace,
                sender_device_id=self.device_id,
                keys=keys,
                iv=content.initialization_vector,
                payload=None if content.empty else content.ciphertext,
            )
        return EncryptedElement(
            namespace=self.namespace,
            sender_device_id=self.device_id,
            keys=keys,
            payload=None if content.empty else content.ciphertext,
        )

    async def decrypt(
        self, element: EncryptedElement, sender_bare_jid: str, sign_bit: bool = False
    ) -> PeerDecryption:
        """Decrypt the key addressed to this device, then the payload.

        Args:
            element: an element we produced.
            sender_bare_jid: the sender's bare JID.
            sign_bit: 0.3 only: the sign bit used to rebuild the sender's Ed25519 identity key
                from the Curve form in the key exchange. It changes neither the shared secret nor
                the AD, so False always works (OMEMO-WIRE.md §2.2).

        Raises:
            whatever their backend raises (DecryptionFailed, KeyExchangeFailed, ValueError…).
        """
        assert element.namespace is self.namespace
        key = element.key_for(self.device_id)
        assert key is not None, "no key for this peer"
        sender = DeviceRef(sender_bare_jid, element.sender_device_id)
        key_material, new_session = await self._decrypt_key(key, sender, sign_bit)
        plaintext = await self._decrypt_payload(element, key_material)
        return PeerDecryption(plaintext, key_material, key.key_exchange, new_session)

    async def _decrypt_key(
        self, key: KeyElement, sender: DeviceRef, sign_bit: bool
    ) -> tuple[bytes, bool]:
        """The ratchet plaintext of one key, and whether a passive session was built."""
        module: Any = oldmemo.oldmemo if self.namespace is Namespace.LEGACY else twomemo.twomemo
        data = key.data
        key_exchange: Any = None
        if key.key_exchange:
            if self.namespace is Namespace.LEGACY:
                key_exchange, data = module.KeyExchangeImpl.parse(data, sign_bit)
            else:
                key_exchange, data = module.KeyExchangeImpl.parse(data)
        encrypted = module.EncryptedKeyMaterialImpl.parse(data, sender.bare_jid, sender.device_id)
        session = await self.session(sender)
        new_session = key_exchange is not None and (
            session is None or not key_exchange.builds_same_session(session.key_exchange)
        )
        if new_session:
            session, plain = await self.backend.build_session_passive(
                sender.bare_jid, sender.device_id, key_exchange, encrypted
            )
            await self.backend.delete_pre_key(session)
            await self.backend.generate_pre_keys(1)
        else:
            assert session is not None, f"no session with {sender}"
            plain = await self.backend.decrypt_key_material(session, encrypted)
        await self.backend.store_session(session)
        material: Any = plain
        return material.key + material.auth_tag, new_session

    async def _decrypt_payload(self, element: EncryptedElement, material: bytes) -> bytes | None:
        """Decrypt `<payload>` with the key material (None for an empty message)."""
        if element.payload is None:
            return None
        if self.namespace is Namespace.LEGACY:
            assert element.iv is not None
            key, tag, payload = material[:16], material[16:], element.payload
            if not tag:  # the old form: the GCM tag sits at the end of the payload
                payload, tag = payload[:-16], payload[-16:]
            content: Any = oldmemo.oldmemo.ContentImpl(payload, element.iv)
            plain: Any = oldmemo.oldmemo.PlainKeyMaterialImpl(key, tag)
        else:
            content = twomemo.twomemo.ContentImpl(element.payload)
            plain = twomemo.twomemo.PlainKeyMaterialImpl(material[:32], material[32:])
        return await self.backend.decrypt_plaintext(content, plain)


async def encrypt_key_material(
    peer: Peer, device: DeviceRef, key_material: bytes, iv: bytes | None, payload: bytes | None
) -> EncryptedElement:
    """A hand-made element: `key_material` through the peer's existing session with `device`.

    For payload shapes the backends never produce themselves (a 16-byte 0.3 IV, a bare key).
    """
    session = await peer.session(device)
    assert session is not None
    module: Any = oldmemo.oldmemo if peer.namespace is Namespace.LEGACY else twomemo.twomemo
    split = 16 if peer.namespace is Namespace.LEGACY else 32
    plain = module.PlainKeyMaterialImpl(key_material[:split], key_material[split:])
    encrypted = await peer.backend.encrypt_key_material(session, plain)
    await peer.backend.store_session(session)
    data: bytes = encrypted.serialize()  # type: ignore[attr-defined]
    jid = None if peer.namespace is Namespace.LEGACY else device.bare_jid
    key = KeyElement(jid, device.device_id, data, key_exchange=False)
    return EncryptedElement(peer.namespace, peer.device_id, (key,), iv, payload)
