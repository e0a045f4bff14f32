"""One session with one peer device in one namespace: its persisted form and its operations.

A session is built actively from the peer's bundle (we send first) or passively from the peer's
key exchange. Until the peer answers (`confirmed`), the active side wraps every outgoing ratchet
message in a key exchange with the stored X3DH header (`ephemeral_key`, prekey ids), so a peer
that missed the first message can still build the session. The passive side remembers the
ephemeral key so that a repeated key exchange decrypts with the existing session.

`associated_data` is X3DH's `IK_initiator ‖ IK_responder`; `Version.message_associated_data`
turns it into each message's AD (0.3 swaps by direction).

State key: `"session/<0.3|2>/<bare_jid>/<device_id>"`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import doubleratchet

from tui_omemo.model import DeviceRef, Namespace
from tui_omemo.protocol.codec import (
    as_json_object,
    as_library_json,
    b64,
    check_version,
    get_int,
    get_object,
    unb64,
)
from tui_omemo.protocol.errors import (
    AuthenticationFailed,
    Duplicate,
    MalformedMessage,
    StateCorrupted,
    TooManySkipped,
)
from tui_omemo.protocol.ports import JsonObject
from tui_omemo.protocol.ratchet import PackingDoubleRatchet
from tui_omemo.protocol.version import KeyExchange, Version

SESSION_VERSION = 1


def session_key(namespace: Namespace, device: DeviceRef) -> str:
    """The state key of the session with `device`."""
    return f"session/{namespace.label}/{device.bare_jid}/{device.device_id}"


@dataclass(frozen=True, slots=True)
class Session:
    """A session's persisted facts; `ratchet` is doubleratchet's JSON.

    Attributes:
        namespace: the version.
        device: the peer device.
        active: we built it from the peer's bundle.
        confirmed: the peer has answered (active sessions stop sending key exchanges).
        identity_key: the peer's identity key as on the wire of this version.
        identity_key_curve: the same in Curve25519 form (trust, fingerprints, comparisons).
        associated_data: `IK_initiator ‖ IK_responder` in this version's encoding.
        ephemeral_key: the X3DH ephemeral key (ours when active, the peer's when passive).
        signed_pre_key_id / pre_key_id: the X3DH ids (to repeat the key exchange).
    """

    namespace: Namespace
    device: DeviceRef
    active: bool
    confirmed: bool
    identity_key: bytes
    identity_key_curve: bytes
    associated_data: bytes = field(repr=False)
    ephemeral_key: bytes
    signed_pre_key_id: int
    pre_key_id: int | None
    ratchet: JsonObject = field(repr=False)

    def to_json(self) -> JsonObject:
        """The persisted form."""
        return {
            "version": SESSION_VERSION,
            "namespace": self.namespace.value,
            "bare_jid": self.device.bare_jid,
            "device_id": self.device.device_id,
            "active": self.active,
            "confirmed": self.confirmed,
            "identity_key": b64(self.identity_key),
            "identity_key_curve": b64(self.identity_key_curve),
            "associated_data": b64(self.associated_data),
            "ephemeral_key": b64(self.ephemeral_key),
            "signed_pre_key_id": self.signed_pre_key_id,
            "pre_key_id": self.pre_key_id,
            "ratchet": self.ratchet,
        }

    @classmethod
    def from_json(cls, value: JsonObject) -> Session:
        """Inverse of `to_json`.

        Raises:
            StateCorrupted: unknown version or bad fields.
        """
        check_version(value, "session", SESSION_VERSION)
        namespace, bare_jid = value.get("namespace"), value.get("bare_jid")
        active, confirmed = value.get("active"), value.get("confirmed")
        pre_key_id = value.get("pre_key_id")
        if not isinstance(namespace, str) or not isinstance(bare_jid, str):
            raise StateCorrupted("session: bad namespace or jid")
        if not isinstance(active, bool) or not isinstance(confirmed, bool):
            raise StateCorrupted("session: bad flags")
        if pre_key_id is not None and not isinstance(pre_key_id, int):
            raise StateCorrupted("session: bad prekey id")
        try:
            parsed_namespace = Namespace(namespace)
        except ValueError as error:
            raise StateCorrupted("session: unknown namespace") from error
        return cls(
            namespace=parsed_namespace,
            device=DeviceRef(bare_jid, get_int(value, "device_id")),
            active=active,
            confirmed=confirmed,
            identity_key=unb64(value.get("identity_key")),
            identity_key_curve=unb64(value.get("identity_key_curve")),
            associated_data=unb64(value.get("associated_data")),
            ephemeral_key=unb64(value.get("ephemeral_key")),
            signed_pre_key_id=get_int(value, "signed_pre_key_id"),
            pre_key_id=pre_key_id,
            ratchet=get_object(value, "ratchet"),
        )


def ratchet_json(ratchet: PackingDoubleRatchet) -> JsonObject:
    """doubleratchet's JSON of `ratchet` as our JSON type."""
    return as_json_object(ratchet.json)


def restore_ratchet(version: Version, session: Session, max_skipped: int) -> PackingDoubleRatchet:
    """The live ratchet of `session`.

    Raises:
        StateCorrupted: doubleratchet refuses the stored JSON.
    """
    try:
        return version.ratchet(max_skipped).restore(as_library_json(session.ratchet))
    except (ValueError, doubleratchet.InconsistentSerializationException) as error:
        raise StateCorrupted("session: bad ratchet state") from error


async def ratchet_decrypt(
    ratchet: PackingDoubleRatchet, message: doubleratchet.EncryptedMessage, ad: bytes
) -> bytes:
    """`ratchet.decrypt_message` with doubleratchet's exceptions mapped to ours.

    Raises:
        AuthenticationFailed, MalformedMessage, TooManySkipped, Duplicate.
    """
    try:
        return await ratchet.decrypt_message(message, ad)
    except doubleratchet.AuthenticationFailedException as error:
        raise AuthenticationFailed("ratchet MAC mismatch") from error
    except doubleratchet.DecryptionFailedException as error:
        raise MalformedMessage(str(error)) from error
    except doubleratchet.DoSProtectionException as error:
        raise TooManySkipped(str(error)) from error
    except doubleratchet.DuplicateMessageException as error:
        raise Duplicate("message already decrypted") from error


async def encrypt_key_material(
    version: Version,
    session: Session,
    key_material: bytes,
    *,
    own_wire_identity_key: bytes,
    own_device_id: int,
    max_skipped: int,
) -> tuple[Session, bytes, bool]:
    """Ratchet-encrypt `key_material` for the session's device.

    Returns:
        The advanced session, the `<key>` bytes, and whether they are a key exchange.
    """
    ratchet = restore_ratchet(version, session, max_skipped)
    ad = version.message_associated_data(session.associated_data, active=session.active,
                                         sending=True)
    encrypted = await ratchet.encrypt_message(key_material, ad)
    advanced = replace(session, ratchet=ratchet_json(ratchet))
    if session.active and not session.confirmed:
        exchange = KeyExchange(session.pre_key_id, session.signed_pre_key_id,
                               own_wire_identity_key, session.ephemeral_key, encrypted.ciphertext)
        return advanced, version.build_key_exchange(exchange, own_device_id), True
    return advanced, encrypted.ciphertext, False
