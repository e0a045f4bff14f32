"""Our own device: device id, the one identity key, and per version the prekey material.

* `Identity` (state key `"identity"`): device id and the 32-byte identity seed. One identity key
  serves both versions (as python-omemo does), so one device shows one fingerprint.
* `PreKeys` (state key `"x3dh/<0.3|2>"`): x3dh's `BaseState` of that version plus what x3dh does
  not know: ids for the signed prekey and the prekeys (pub ↔ id maps with counters, ids never
  reused), prekeys hidden during catch-up, and signed prekeys older than the one x3dh keeps.

Signed prekey rotation keeps `keep` old signed prekeys answering: x3dh itself keeps exactly one
old one; the older ones live here and a key exchange naming one of them is answered through a
temporary x3dh state whose "old" slot holds it.

Hiding: x3dh's own hidden prekeys are not serialized, so we don't use them. A hidden prekey stays
in x3dh's set (and thus in its JSON) and is listed in `hidden`; hidden prekeys are left out of the
published bundle, don't count as visible for refills, and `delete_hidden` removes them.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass, field

import x3dh
import xeddsa
from x3dh.models import BaseStateModel, SignedPreKeyPairModel

from tui_omemo.protocol.codec import (
    as_json_object,
    as_library_json,
    b64,
    check_version,
    get_int,
    get_object,
    unb64,
)
from tui_omemo.protocol.elements import WireBundle
from tui_omemo.protocol.errors import StateCorrupted, UnknownPreKey
from tui_omemo.protocol.ports import JsonObject
from tui_omemo.protocol.version import DEVICE_ID_MAX, DEVICE_ID_MIN, Version

IDENTITY_KEY = "identity"
IDENTITY_VERSION = 1
PRE_KEYS_VERSION = 1


def pre_keys_key(version: Version) -> str:
    """The state key of a version's prekey material."""
    return f"x3dh/{version.namespace.label}"


def new_device_id(taken: Collection[int]) -> int:
    """A random device id in 1 … 2^31−1 that is not in `taken`."""
    while True:
        device_id = DEVICE_ID_MIN + secrets.randbelow(DEVICE_ID_MAX - DEVICE_ID_MIN + 1)
        if device_id not in taken:
            return device_id


def verify_device_label(identity_key_ed25519: bytes, label: str, signature: bytes) -> bool:
    """Whether `signature` is the device's identity-key signature over the UTF-8 label.

    XEP-0384 0.9: ignore a label whose `labelsig` is missing or does not verify.
    """
    if len(identity_key_ed25519) != 32 or len(signature) != 64:
        return False
    try:
        return bool(xeddsa.ed25519_verify(signature, identity_key_ed25519, label.encode()))
    except xeddsa.XEdDSAException:
        return False


@dataclass(frozen=True, slots=True)
class Identity:
    """Our device id and identity seed (immutable for the life of the device)."""

    device_id: int
    seed: bytes = field(repr=False)

    @classmethod
    def generate(cls, taken_device_ids: Collection[int]) -> Identity:
        """A new device: fresh id (avoiding `taken_device_ids`) and fresh seed."""
        return cls(new_device_id(taken_device_ids), secrets.token_bytes(32))

    @property
    def identity_key_ed25519(self) -> bytes:
        """Our identity public key in Ed25519 form."""
        return xeddsa.priv_to_ed25519_pub(xeddsa.seed_to_priv(self.seed))

    @property
    def identity_key_curve25519(self) -> bytes:
        """Our identity public key in Curve25519 form (the fingerprint)."""
        return xeddsa.priv_to_curve25519_pub(xeddsa.seed_to_priv(self.seed))

    def sign(self, message: bytes) -> bytes:
        """An Ed25519 (XEdDSA) signature by the identity key, verifiable with
        `identity_key_ed25519` (OMEMO 2 device labels: `labelsig`)."""
        return xeddsa.ed25519_priv_sign(xeddsa.seed_to_priv(self.seed), message)

    def to_json(self) -> JsonObject:
        """The persisted form."""
        return {"version": IDENTITY_VERSION, "device_id": self.device_id, "seed": b64(self.seed)}

    @classmethod
    def from_json(cls, value: JsonObject) -> Identity:
        """Inverse of `to_json`.

        Raises:
            StateCorrupted: unknown version or bad fields.
        """
        check_version(value, "identity", IDENTITY_VERSION)
        seed = unb64(value.get("seed"))
        if len(seed) != 32:
            raise StateCorrupted("identity seed is not 32 bytes")
        return cls(get_int(value, "device_id"), seed)


def _ids(value: JsonObject, name: str) -> dict[bytes, int]:
    mapping = get_object(value, name)
    out: dict[bytes, int] = {}
    for pub, key_id in mapping.items():
        if not isinstance(key_id, int):
            raise StateCorrupted(f"{name}: id is not an int")
        out[unb64(pub)] = key_id
    return out


class PreKeys:
    """One version's x3dh state with ids, hidden prekeys and older signed prekeys (mutable)."""

    def __init__(
        self,
        version: Version,
        state: x3dh.BaseState,
        *,
        signed_pre_key_ids: dict[bytes, int],
        pre_key_ids: dict[bytes, int],
        next_ids: tuple[int, int],
        hidden: set[bytes],
        older_signed_pre_keys: list[SignedPreKeyPairModel],
    ) -> None:
        self.version = version
        self.state = state
        self.signed_pre_key_ids = signed_pre_key_ids
        self.pre_key_ids = pre_key_ids
        self.next_signed_pre_key_id, self.next_pre_key_id = next_ids
        self.hidden = hidden
        self.older_signed_pre_keys = older_signed_pre_keys

    @classmethod
    def create(cls, version: Version, identity: Identity, target: int) -> PreKeys:
        """Fresh material: a signed prekey (id 1) and `target` prekeys (ids 1 … target)."""
        state = version.state_class.create(
            x3dh.IdentityKeyFormat.ED_25519, x3dh.HashFunction.SHA_256, version.x3dh_info,
            x3dh.identity_key_pair.IdentityKeyPairSeed(identity.seed),
        )
        pre_keys = cls(version, state, signed_pre_key_ids={state.bundle.signed_pre_key: 1},
                       pre_key_ids={}, next_ids=(2, 1), hidden=set(), older_signed_pre_keys=[])
        pre_keys.refill(target)
        return pre_keys

    # --- persistence -------------------------------------------------------------------------

    def to_json(self) -> JsonObject:
        """The persisted form."""
        return {
            "version": PRE_KEYS_VERSION,
            "state": as_json_object(self.state.json),
            "signed_pre_key_ids": {b64(pub): i for pub, i in self.signed_pre_key_ids.items()},
            "pre_key_ids": {b64(pub): i for pub, i in self.pre_key_ids.items()},
            "next_signed_pre_key_id": self.next_signed_pre_key_id,
            "next_pre_key_id": self.next_pre_key_id,
            "hidden": [b64(pub) for pub in sorted(self.hidden)],
            "older_signed_pre_keys": [m.model_dump(mode="json")
                                      for m in self.older_signed_pre_keys],
        }

    @classmethod
    def from_json(cls, version: Version, value: JsonObject) -> PreKeys:
        """Inverse of `to_json`.

        Raises:
            StateCorrupted: unknown version or bad fields.
        """
        check_version(value, "x3dh", PRE_KEYS_VERSION)
        try:
            state, _ = version.state_class.from_json(
                as_library_json(get_object(value, "state")), x3dh.IdentityKeyFormat.ED_25519,
                x3dh.HashFunction.SHA_256, version.x3dh_info,
            )
            hidden_raw = value.get("hidden")
            older_raw = value.get("older_signed_pre_keys")
            if not isinstance(hidden_raw, list) or not isinstance(older_raw, list):
                raise StateCorrupted("x3dh: bad hidden/older lists")
            older = [SignedPreKeyPairModel.model_validate(m) for m in older_raw]
        except ValueError as error:  # pydantic validation
            raise StateCorrupted("x3dh: bad state") from error
        return cls(
            version, state,
            signed_pre_key_ids=_ids(value, "signed_pre_key_ids"),
            pre_key_ids=_ids(value, "pre_key_ids"),
            next_ids=(get_int(value, "next_signed_pre_key_id"), get_int(value, "next_pre_key_id")),
            hidden={unb64(pub) for pub in hidden_raw},
            older_signed_pre_keys=older,
        )

    # --- the bundle --------------------------------------------------------------------------

    def wire_bundle(self) -> WireBundle:
        """Our bundle as published: hidden prekeys left out."""
        bundle = self.state.bundle
        visible = bundle._replace(pre_keys=bundle.pre_keys - self.hidden)
        return self.version.bundle_to_wire(
            visible, self.signed_pre_key_ids[bundle.signed_pre_key], self.pre_key_ids
        )

    def visible_count(self) -> int:
        """Prekeys published (not hidden)."""
        return len(self.state.bundle.pre_keys - self.hidden)

    def refill(self, target: int) -> bool:
        """Generate prekeys until `target` are visible; new ones get fresh ids.

        Returns:
            Whether any were generated.
        """
        missing = target - self.visible_count()
        if missing <= 0:
            return False
        before = self.state.bundle.pre_keys
        self.state.generate_pre_keys(missing)
        for pub in sorted(self.state.bundle.pre_keys - before):
            self.pre_key_ids[pub] = self.next_pre_key_id
            self.next_pre_key_id += 1
        return True

    # --- key exchanges -----------------------------------------------------------------------

    def pre_key_pub(self, pre_key_id: int | None) -> bytes:
        """The prekey with `pre_key_id` (hidden ones included).

        Raises:
            UnknownPreKey: none, or not (any more) ours.
        """
        if pre_key_id is None:
            raise UnknownPreKey("key exchange without a prekey")
        for pub, key_id in self.pre_key_ids.items():
            if key_id == pre_key_id and pub in self.state.bundle.pre_keys:
                return pub
        raise UnknownPreKey(f"unknown prekey id {pre_key_id}")

    def signed_pre_key_pub(self, signed_pre_key_id: int) -> bytes:
        """The (current or kept old) signed prekey with `signed_pre_key_id`.

        Raises:
            UnknownPreKey: not (any more) ours.
        """
        for pub, key_id in self.signed_pre_key_ids.items():
            if key_id == signed_pre_key_id:
                return pub
        raise UnknownPreKey(f"unknown signed prekey id {signed_pre_key_id}")

    def state_answering(self, signed_pre_key_pub: bytes) -> x3dh.BaseState:
        """An x3dh state that accepts `signed_pre_key_pub` (a temporary one for older keys)."""
        for older in self.older_signed_pre_keys:
            if xeddsa.priv_to_curve25519_pub(older.priv) == signed_pre_key_pub:
                model: BaseStateModel = self.state.model.model_copy(
                    update={"old_signed_pre_key": older}
                )
                return self.version.state_class.from_model(
                    model, x3dh.IdentityKeyFormat.ED_25519, x3dh.HashFunction.SHA_256,
                    self.version.x3dh_info,
                )
        return self.state

    def consume(self, pre_key_pub: bytes, *, hide: bool, target: int) -> None:
        """A key exchange used `pre_key_pub`: hide it (catch-up) or delete it, then refill."""
        if hide:
            self.hidden.add(pre_key_pub)
        else:
            self.state.delete_pre_key(pre_key_pub)
            self.pre_key_ids.pop(pre_key_pub, None)
        self.refill(target)

    def delete_hidden(self) -> bool:
        """Delete every hidden prekey. Returns whether there were any."""
        for pub in self.hidden:
            self.state.delete_pre_key(pub)
            self.pre_key_ids.pop(pub, None)
        had_hidden = bool(self.hidden)
        self.hidden = set()
        return had_hidden

    # --- signed prekey rotation ----------------------------------------------------------------

    def signed_pre_key_age(self, now: float) -> float:
        """Seconds since the current signed prekey was generated."""
        return now - self.state.model.signed_pre_key.timestamp

    def rotate(self, keep: int) -> None:
        """New signed prekey; `keep` old ones stay usable (at least the one x3dh keeps)."""
        old = self.state.model.old_signed_pre_key
        if old is not None:
            self.older_signed_pre_keys.insert(0, old)
        self.state.rotate_signed_pre_key()
        self.signed_pre_key_ids[self.state.bundle.signed_pre_key] = self.next_signed_pre_key_id
        self.next_signed_pre_key_id += 1
        dropped = self.older_signed_pre_keys[max(keep - 1, 0):]
        del self.older_signed_pre_keys[max(keep - 1, 0):]
        for model in dropped:
            self.signed_pre_key_ids.pop(xeddsa.priv_to_curve25519_pub(model.priv), None)
        if keep < 1 and old is not None:
            self.signed_pre_key_ids.pop(xeddsa.priv_to_curve25519_pub(old.priv), None)
