"""One session with one peer device in one namespace: its persisted form and its operations.

A session is built actively from the peer's bundle (we send first) or passively from the peer's
key exchange. Until the peer answers (`confirmed`), the active side wraps every outgoing ratchet
message in a key exchange with the stored X3DH header (`ephemeral_key`, prekey ids), so a peer
that missed the first message can still build the session. The passive side remembers the
ephemeral key so that a repeated key exchange decrypts with the existing session.

`associated_data` is X3DH's `IK_initiator ‖ IK_responder`; `Version.message_associated_data`
turns it into each message's AD (0.3 swaps by direction).

State key: `"session/<0.3|2>/<bare_jid>/<device_id>"`.

Skipped message keys are kept out of the session value so that decrypting costs the same however
many are held: each lives under its own key `"skipped/<ns>/<jid>/<device>/<ratchet_pub hex>/<n>"`,
and a FIFO of `"skipped-order/<ns>/<jid>/<device>/<seq>"` entries (window
`skipped_oldest … skipped_next` in the session) evicts the oldest beyond the limit. The ratchet
JSON in the session always has an empty skipped-key list; `Engine` looks a message's key up by
(ratchet key, counter) before asking the ratchet.

Performance (issue 3): restoring a `DoubleRatchet` from its JSON (pydantic validation, a deep
copy per decryption) and serializing it back cost more than the message's cryptography.
`RatchetView` does the common steps (sending, receiving the next message of a chain, a DH ratchet
step that skips no key) directly on the stored JSON and writes exactly the JSON doubleratchet would
write; everything else (skipped keys, duplicates, other model versions, the first message of a
session) still goes through doubleratchet. Nothing is cached: each step reads the JSON it is given.
"""

from __future__ import annotations

import hmac
import secrets
from typing import NamedTuple, cast

import doubleratchet
import xeddsa

from tui_omemo.model import DeviceRef, Namespace
from tui_omemo.protocol.codec import (
    as_json_object,
    as_library_json,
    b64,
    check_version,
    get_object,
    unb64,
)
from tui_omemo.protocol.errors import (
    StateCorrupted,
)
from tui_omemo.protocol.keys import curve_pub
from tui_omemo.protocol.ports import JsonObject
from tui_omemo.protocol.ratchet import PackingDoubleRatchet, hkdf_sha256
from tui_omemo.protocol.version import KeyExchange, Version

SESSION_VERSION = 1


def session_key(namespace: Namespace, device: DeviceRef) -> str:
    """The state key of the session with `device`."""
    return f"session/{namespace.label}/{device.bare_jid}/{device.device_id}"


class Session(NamedTuple):
    """A session's persisted facts; `ratchet` is doubleratchet's JSON.

    An immutable `NamedTuple` rather than a frozen dataclass: it is built twice per message and
    per recipient device (read, then advanced), and a frozen dataclass pays one
    `object.__setattr__` per field for that; its repr leaves out the AD, the ratchet (private
    keys) and the stored form.

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
        stored: the persisted form this session was read from (or evolved from), if any: its
            fixed fields are written back as they were instead of being encoded again.
    """

    namespace: Namespace
    device: DeviceRef
    active: bool
    confirmed: bool
    identity_key: bytes
    identity_key_curve: bytes
    associated_data: bytes
    ephemeral_key: bytes
    signed_pre_key_id: int
    pre_key_id: int | None
    ratchet: JsonObject
    skipped_oldest: int = 0
    skipped_next: int = 0
    stored: JsonObject | None = None

    def __repr__(self) -> str:
        return (
            f"Session(namespace={self.namespace!r}, device={self.device!r}, "
            f"active={self.active!r}, confirmed={self.confirmed!r}, "
            f"identity_key={self.identity_key!r}, "
            f"identity_key_curve={self.identity_key_curve!r}, "
            f"ephemeral_key={self.ephemeral_key!r}, "
            f"signed_pre_key_id={self.signed_pre_key_id!r}, pre_key_id={self.pre_key_id!r}, "
            f"skipped_oldest={self.skipped_oldest!r}, skipped_next={self.skipped_next!r})"
        )

    def evolve(
        self,
        *,
        ratchet: JsonObject | None = None,
        confirmed: bool | None = None,
        skipped: tuple[int, int] | None = None,
    ) -> Session:
        """A copy with a new ratchet, `confirmed` flag and/or skipped-key window (what changes
        per message; `_replace` costs several times more on this hot path)."""
        return Session(
            self.namespace,
            self.device,
            self.active,
            self.confirmed if confirmed is None else confirmed,
            self.identity_key,
            self.identity_key_curve,
            self.associated_data,
            self.ephemeral_key,
            self.signed_pre_key_id,
            self.pre_key_id,
            self.ratchet if ratchet is None else ratchet,
            *((self.skipped_oldest, self.skipped_next) if skipped is None else skipped),
            self.stored,
        )

    def to_json(self) -> JsonObject:
        """The persisted form."""
        if self.stored is not None:  # only these change after a session is built
            return {
                **self.stored,
                "confirmed": self.confirmed,
                "ratchet": self.ratchet,
                "skipped_oldest": self.skipped_oldest,
                "skipped_next": self.skipped_next,
            }
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
            "skipped_oldest": self.skipped_oldest,
            "skipped_next": self.skipped_next,
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
        if not isinstance(bare_jid, str):
            raise StateCorrupted("session: bad jid")
        if not isinstance(active, bool) or not isinstance(confirmed, bool):
            raise StateCorrupted("session: bad flags")
        if pre_key_id is not None and not isinstance(pre_key_id, int):
            raise StateCorrupted("session: bad prekey id")
        parsed_namespace = _NAMESPACES.get(namespace) if isinstance(namespace, str) else None
        if parsed_namespace is None:
            raise StateCorrupted("session: unknown namespace")
        device_id, signed_pre_key_id = value.get("device_id"), value.get("signed_pre_key_id")
        skipped_oldest, skipped_next = value.get("skipped_oldest"), value.get("skipped_next")
        if not (
            type(device_id) is int
            and type(signed_pre_key_id) is int  # never bools
            and type(skipped_oldest) is int
            and type(skipped_next) is int
        ):
            raise StateCorrupted("session: bad device id, signed prekey id or skipped window")
        return cls(
            parsed_namespace,
            DeviceRef(bare_jid, device_id),
            active,
            confirmed,
            unb64(value.get("identity_key")),
            unb64(value.get("identity_key_curve")),
            unb64(value.get("associated_data")),
            unb64(value.get("ephemeral_key")),
            signed_pre_key_id,
            pre_key_id,
            get_object(value, "ratchet"),
            skipped_oldest,
            skipped_next,
            value,
        )


_NAMESPACES = {namespace.value: namespace for namespace in Namespace}


def skipped_key(namespace: Namespace, device: DeviceRef, ratchet_pub: bytes, index: int) -> str:
    """The state key of one skipped message key."""
    return (
        f"skipped/{namespace.label}/{device.bare_jid}/{device.device_id}/"
        f"{ratchet_pub.hex()}/{index}"
    )


def skipped_order_key(namespace: Namespace, device: DeviceRef, sequence: int) -> str:
    """The state key of the FIFO entry `sequence` of a session's skipped keys."""
    return f"skipped-order/{namespace.label}/{device.bare_jid}/{device.device_id}/{sequence}"


def ratchet_json(ratchet: PackingDoubleRatchet) -> JsonObject:
    """doubleratchet's JSON of `ratchet` as our JSON type, without its skipped message keys."""
    value = dict(as_json_object(ratchet.json))
    value["skipped_message_keys"] = []
    return value


def new_skipped_keys(ratchet: PackingDoubleRatchet) -> list[tuple[bytes, int, bytes]]:
    """The skipped message keys the ratchet holds: (ratchet pub, counter, message key)."""
    return [
        (entry.ratchet_pub, entry.index, entry.message_key)
        for entry in ratchet.model.skipped_message_keys
    ]


def restore_ratchet(version: Version, session: Session, max_skipped: int) -> PackingDoubleRatchet:
    """The live ratchet of `session`.

    Raises:
        StateCorrupted: doubleratchet refuses the stored JSON.
    """
    try:
        return version.ratchet(max_skipped).restore(as_library_json(session.ratchet))
    except (ValueError, doubleratchet.InconsistentSerializationException) as error:
        raise StateCorrupted("session: bad ratchet state") from error


_MODEL_VERSION = "1.0.0"


def _chain_step(chain: JsonObject) -> tuple[bytes, JsonObject]:
    """One step of a message chain (doubleratchet's `kdf_separate_hmacs` with the constant
    0x02 0x01): the message key HMAC(ck, 0x01) and the chain advanced to HMAC(ck, 0x02)."""
    key = cast(str, chain["key"]).encode("latin-1")
    message_key = hmac.digest(key, b"\x01", "sha256")
    next_key = hmac.digest(key, b"\x02", "sha256")
    return message_key, {
        "version": _MODEL_VERSION,
        "length": cast(int, chain["length"]) + 1,
        "key": next_key.decode("latin-1"),
    }


def _is_chain(value: object) -> bool:
    if not isinstance(value, dict) or len(value) != 3 or value.get("version") != _MODEL_VERSION:
        return False
    key, length = value.get("key"), value.get("length")
    return (
        type(length) is int
        and length >= 0
        and isinstance(key, str)
        and len(key) == 32
        and _is_latin1(key)
    )


def _is_latin1(text: str) -> bool:
    """Whether `text` holds bytes as latin-1 (doubleratchet's JSON form of bytes); cheaper than
    comparing `max(text)` with U+00FF."""
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


class RatchetView(NamedTuple):
    """The parts of doubleratchet's JSON that one message step reads, for ratchets in the plain
    current shape (model version 1.0.0, a sending chain, no skipped keys inside).

    `step_sending` and `step_receiving` do what `DoubleRatchet.encrypt_message` and (for the
    next message of the current receiving chain) `decrypt_message` do, directly on the JSON and
    without pydantic, and return the JSON doubleratchet would write. Everything else (a DH ratchet
    step, skipped keys, duplicates, older model versions) goes through doubleratchet itself.
    A `NamedTuple` (built per message and device) whose repr shows no key.
    """

    json: JsonObject
    dh: JsonObject
    symmetric: JsonObject
    own_ratchet_priv: bytes
    other_ratchet_pub: bytes

    def __repr__(self) -> str:
        return "RatchetView(…)"

    @classmethod
    def of(cls, value: JsonObject) -> RatchetView | None:
        """The view, or None when `value` is not in the plain current shape."""
        dh = value.get("diffie_hellman_ratchet")
        if (
            value.get("version") != _MODEL_VERSION
            or value.get("skipped_message_keys") != []
            or len(value) != 3
            or not isinstance(dh, dict)
            or len(dh) != 5
            or dh.get("version") != _MODEL_VERSION
        ):
            return None
        symmetric, own, other = (
            dh.get("symmetric_key_ratchet"),
            dh.get("own_ratchet_priv"),
            dh.get("other_ratchet_pub"),
        )
        if (
            not isinstance(symmetric, dict)
            or len(symmetric) != 4
            or symmetric.get("version") != _MODEL_VERSION
            or not _is_chain(symmetric.get("sending_chain"))
            or not (
                symmetric.get("receiving_chain") is None
                or _is_chain(symmetric.get("receiving_chain"))
            )
            or type(symmetric.get("previous_sending_chain_length")) not in (int, type(None))
            or not isinstance(own, str)
            or not isinstance(other, str)
            or not _is_chain(dh.get("root_chain"))
        ):
            return None
        try:
            return cls(value, dh, symmetric, own.encode("latin-1"), other.encode("latin-1"))
        except UnicodeEncodeError:
            return None

    def _with_symmetric(self, **changes: JsonObject) -> JsonObject:
        symmetric = {**self.symmetric, **changes}
        return {
            **self.json,
            "diffie_hellman_ratchet": {**self.dh, "symmetric_key_ratchet": symmetric},
        }

    @property
    def sending_chain_length(self) -> int:
        """The number of messages sent on the current sending chain."""
        return cast(int, cast(JsonObject, self.symmetric["sending_chain"])["length"])

    def step_sending(self) -> tuple[bytes, doubleratchet.Header, JsonObject]:
        """The next message key, its header, and the advanced JSON."""
        chain = cast(JsonObject, self.symmetric["sending_chain"])
        previous = self.symmetric["previous_sending_chain_length"]
        header = doubleratchet.Header(
            curve_pub(self.own_ratchet_priv),
            cast(int | None, previous) or 0,
            cast(int, chain["length"]),
        )
        message_key, advanced = _chain_step(chain)
        return message_key, header, self._with_symmetric(sending_chain=advanced)

    def step_receiving(
        self, header: doubleratchet.Header, root_info: bytes
    ) -> tuple[bytes, JsonObject, int] | None:
        """The message key of `header`, the advanced JSON and the sending chain length after it,
        when no message key has to be skipped for it: the next message of the current receiving
        chain, or the first message (counter 0) on a new ratchet key whose previous chain we
        have received completely (a DH ratchet step). None otherwise.

        Raises:
            xeddsa.XEdDSAException, ValueError: an unusable ratchet key.
        """
        chain = cast(JsonObject | None, self.symmetric["receiving_chain"])
        if header.ratchet_pub == self.other_ratchet_pub:
            if chain is None or header.sending_chain_length != chain["length"]:
                return None
            message_key, advanced = _chain_step(chain)
            return (
                message_key,
                self._with_symmetric(receiving_chain=advanced),
                self.sending_chain_length,
            )
        if header.sending_chain_length != 0 or (
            chain is not None and header.previous_sending_chain_length != chain["length"]
        ):
            return None
        return self._dh_step(header.ratchet_pub, root_info)

    def _dh_step(self, other_pub: bytes, root_info: bytes) -> tuple[bytes, JsonObject, int]:
        """doubleratchet's DH ratchet step (new receiving chain, new own key, new sending chain),
        then the first key of the new receiving chain."""
        root = cast(JsonObject, self.dh["root_chain"])
        root_key = cast(str, root["key"]).encode("latin-1")
        root_key, receiving_key = _root_step(
            root_key, _x25519(self.own_ratchet_priv, other_pub), root_info
        )
        own_priv = _new_ratchet_priv()  # its public key is derived (and memoised) on send
        root_key, sending_key = _root_step(root_key, _x25519(own_priv, other_pub), root_info)
        message_key, receiving = _chain_step(
            {"version": _MODEL_VERSION, "length": 0, "key": receiving_key.decode("latin-1")}
        )
        symmetric: JsonObject = {
            **self.symmetric,
            "receiving_chain": receiving,
            "sending_chain": {
                "version": _MODEL_VERSION,
                "length": 0,
                "key": sending_key.decode("latin-1"),
            },
            "previous_sending_chain_length": self.sending_chain_length,
        }
        dh: JsonObject = {
            **self.dh,
            "own_ratchet_priv": own_priv.decode("latin-1"),
            "other_ratchet_pub": other_pub.decode("latin-1"),
            "root_chain": {
                "version": _MODEL_VERSION,
                "length": cast(int, root["length"]) + 2,
                "key": root_key.decode("latin-1"),
            },
            "symmetric_key_ratchet": symmetric,
        }
        return message_key, {**self.json, "diffie_hellman_ratchet": dh}, 0


def _new_ratchet_priv() -> bytes:
    """A new own ratchet private key (doubleratchet's `_generate_priv`, from `secrets`)."""
    return secrets.token_bytes(32)


def _x25519(priv: bytes, pub: bytes) -> bytes:
    """X25519 (the same value as doubleratchet's Curve25519 ratchet computes; xeddsa's is cheaper
    because cryptography derives the public key of every private key it loads). Low-order keys
    raise `xeddsa.XEdDSAException`, wrong lengths ValueError."""
    return xeddsa.x25519(priv, pub)


def _root_step(root_key: bytes, dh_output: bytes, info: bytes) -> tuple[bytes, bytes]:
    """doubleratchet's root chain step (`kdf_hkdf`): HKDF(salt = root key, info, dh) → 64 bytes:
    the new root key and a new chain key."""
    output = hkdf_sha256(dh_output, info, 64, salt=root_key)
    return output[:32], output[32:]


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
    ad = version.message_associated_data(
        session.associated_data, active=session.active, sending=True
    )
    view = RatchetView.of(session.ratchet)
    if view is not None:
        message_key, header, advanced_json = view.step_sending()
        wire = version.aead.seal(key_material, message_key, ad, header)
        advanced = session.evolve(ratchet=advanced_json)
    else:
        ratchet = restore_ratchet(version, session, max_skipped)
        wire = (await ratchet.encrypt_message(key_material, ad)).ciphertext
        advanced = session.evolve(ratchet=ratchet_json(ratchet))
    if session.active and not session.confirmed:
        exchange = KeyExchange(
            session.pre_key_id,
            session.signed_pre_key_id,
            own_wire_identity_key,
            session.ephemeral_key,
            wire,
        )
        return advanced, version.build_key_exchange(exchange, own_device_id), True
    return advanced, wire, False
