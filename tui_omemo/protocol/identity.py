"""Our own device: device id, the one identity key, and per version the prekey material.

* `Identity` (state key `"identity"`): device id and the 32-byte identity seed. One identity key
  serves both versions (as python-omemo does), so one device shows one fingerprint.
* `PreKeys` (state key `"x3dh/<0.3|2>"`): x3dh's `BaseState` JSON of that version plus what x3dh
  does not know: ids for the signed prekey and the prekeys (pub ↔ id maps with counters, ids never
  reused), prekeys hidden during catch-up, and signed prekeys older than the one x3dh keeps.

Performance (issue 3), and why this does not use x3dh's `BaseState` object: `BaseState` derives
every prekey's public key each time its bundle is read (several times per operation) and parses
its JSON through pydantic. `PreKeys` reads and writes the same JSON itself (x3dh's format, bytes
as one character per byte, other shapes and older model versions go through x3dh's own parser),
and derives public keys through the memo of `keys.py`. The key agreement itself is in
`agreement.py`.

Prekey ids are assigned when first needed: a prekey whose public key has no entry in
`pre_key_ids` gets `next_pre_key_id + n` where n is its rank among those keys by public key. That
is the numbering eager assignment gave, it is stable while the set of prekeys does not change, and
every change (`refill`, `consume`, `delete_hidden`) first stores the ids (`_name_all`). So creating
a device derives no public key until its bundle is asked for (python-omemo does the same).

Signed prekey rotation keeps `keep` old signed prekeys answering: x3dh itself keeps exactly one
old one (the `old_signed_pre_key` of its JSON); the older ones live here, and a key exchange naming
any of them is answered with that key.

Hiding: x3dh's own hidden prekeys are not serialized, so we don't use them. A hidden prekey stays
in x3dh's set (and thus in its JSON) and is listed in `hidden`; hidden prekeys are left out of the
published bundle, don't count as visible for refills, and `delete_hidden` removes them.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Collection
from dataclasses import dataclass, field

import x3dh
import xeddsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from x3dh.migrations import parse_base_state_model
from x3dh.models import SignedPreKeyPairModel

from tui_omemo.protocol.codec import (
    as_library_json,
    b64,
    check_version,
    get_int,
    get_object,
    unb64,
)
from tui_omemo.protocol.elements import WireBundle
from tui_omemo.protocol.errors import StateCorrupted, UnknownPreKey
from tui_omemo.protocol.keys import curve_pub, new_key_pair
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
    def private_key(self) -> bytes:
        """Our identity private key (Curve25519/Ed25519 scalar, derived from the seed)."""
        return xeddsa.seed_to_priv(self.seed)

    @property
    def identity_key_ed25519(self) -> bytes:
        """Our identity public key in Ed25519 form (the seed is a standard Ed25519 seed, so
        cryptography's derivation gives xeddsa's `priv_to_ed25519_pub(seed_to_priv(seed))`)."""
        return Ed25519PrivateKey.from_private_bytes(self.seed).public_key().public_bytes_raw()

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


_MODEL_VERSION = "1.0.0"


def _latin1(data: bytes) -> str:
    """x3dh's JSON form of bytes: one character per byte (what its pydantic serializer writes)."""
    return data.decode("latin-1")


def _unlatin1(value: object) -> bytes:
    """Inverse of `_latin1`. Raises ValueError (like x3dh's validator) for anything else."""
    if not isinstance(value, str):
        raise ValueError("bytes fields must be encoded as str")
    return value.encode("latin-1")  # UnicodeEncodeError is a ValueError


@dataclass(frozen=True, slots=True)
class SignedPreKey:
    """A signed prekey pair as x3dh stores it."""

    priv: bytes = field(repr=False)
    sig: bytes
    timestamp: int

    @property
    def pub(self) -> bytes:
        """The public key (memoised derivation)."""
        return curve_pub(self.priv)

    def to_json(self, model_version: str = _MODEL_VERSION) -> JsonObject:
        """x3dh's `SignedPreKeyPairModel` JSON."""
        return {
            "version": model_version,
            "priv": _latin1(self.priv),
            "sig": _latin1(self.sig),
            "timestamp": self.timestamp,
        }

    @classmethod
    def from_json(cls, value: object) -> SignedPreKey:
        """Inverse of `to_json` (other shapes go through x3dh's model). Raises ValueError."""
        if (
            isinstance(value, dict)
            and value.get("version") == _MODEL_VERSION
            and len(value) == 4
            and type(value.get("timestamp")) is int
        ):
            return cls(
                _unlatin1(value.get("priv")), _unlatin1(value.get("sig")), int(value["timestamp"])
            )
        return cls.from_model(SignedPreKeyPairModel.model_validate(value))

    @classmethod
    def from_model(cls, model: SignedPreKeyPairModel) -> SignedPreKey:
        """From x3dh's pydantic model."""
        return cls(model.priv, model.sig, model.timestamp)

    @classmethod
    def generate(cls, version: Version, identity_seed: bytes, now: float) -> SignedPreKey:
        """A new signed prekey, signed over the key as x3dh encodes it.

        The signature is a plain Ed25519 signature by the identity seed (what OMEMO verifies
        against the Ed25519 identity key); x3dh's XEdDSA signing of the private scalar gives an
        equally valid one at three times the cost.
        """
        priv, pub = new_key_pair()
        encoded = version.state_class._encode_public_key(x3dh.IdentityKeyFormat.CURVE_25519, pub)
        return cls(priv, xeddsa.ed25519_seed_sign(identity_seed, encoded), int(now))


@dataclass(slots=True)
class _X3dhState:
    """The content of x3dh's `BaseState` JSON, kept as plain values."""

    model_version: str
    identity_secret: bytes = field(repr=False)
    identity_secret_type: str
    signed: SignedPreKey
    old_signed: SignedPreKey | None
    pre_keys: dict[bytes, None] = field(repr=False)  # private keys, in order

    def to_json(self) -> JsonObject:
        return {
            "version": self.model_version,
            "identity_key": {
                "version": _MODEL_VERSION,
                "secret": _latin1(self.identity_secret),
                "secret_type": self.identity_secret_type,
            },
            "signed_pre_key": self.signed.to_json(),
            "old_signed_pre_key": None if self.old_signed is None else self.old_signed.to_json(),
            "pre_keys": [_latin1(priv) for priv in self.pre_keys],
        }

    @classmethod
    def from_json(cls, value: JsonObject) -> _X3dhState:
        """Parse x3dh's JSON; anything but the current plain shape goes through x3dh's own
        parser (which migrates older formats). Raises ValueError/KeyError/TypeError."""
        identity = value.get("identity_key")
        pre_keys = value.get("pre_keys")
        old = value.get("old_signed_pre_key")
        if (
            value.get("version") == _MODEL_VERSION
            and len(value) == 5
            and isinstance(identity, dict)
            and identity.get("version") == _MODEL_VERSION
            and identity.get("secret_type") in ("SEED", "PRIV")
            and len(identity) == 3
            and isinstance(pre_keys, list)
        ):
            return cls(
                _MODEL_VERSION,
                _unlatin1(identity.get("secret")),
                str(identity["secret_type"]),
                SignedPreKey.from_json(value.get("signed_pre_key")),
                None if old is None else SignedPreKey.from_json(old),
                {_unlatin1(priv): None for priv in pre_keys},
            )
        model, _ = parse_base_state_model(as_library_json(value))
        return cls(
            model.version,
            model.identity_key.secret,
            model.identity_key.secret_type.value,
            SignedPreKey.from_model(model.signed_pre_key),
            None
            if model.old_signed_pre_key is None
            else SignedPreKey.from_model(model.old_signed_pre_key),
            dict.fromkeys(model.pre_keys),
        )


class PreKeys:
    """One version's X3DH material with ids, hidden prekeys and older signed prekeys (mutable).

    Holds x3dh's state as plain values (`_X3dhState`) and writes x3dh's JSON format itself, so
    that nothing is derived or validated twice; public keys come from the memo in `keys.py`.
    """

    def __init__(
        self,
        version: Version,
        state: _X3dhState,
        *,
        signed_pre_key_ids: dict[bytes, int],
        pre_key_ids: dict[bytes, int],
        next_ids: tuple[int, int],
        hidden: set[bytes],
        older_signed_pre_keys: list[SignedPreKey],
    ) -> None:
        self.version = version
        self._state = state
        self.signed_pre_key_ids = signed_pre_key_ids
        self.pre_key_ids = pre_key_ids
        self.next_signed_pre_key_id, self.next_pre_key_id = next_ids
        self.hidden = hidden
        self.older_signed_pre_keys = older_signed_pre_keys
        self._by_pub: dict[bytes, bytes] | None = None  # prekey pub -> priv, derived lazily
        self._unnamed: dict[bytes, int] | None = None  # ids of prekeys not in pre_key_ids yet

    @classmethod
    def create(
        cls, version: Version, identity: Identity, target: int, now: float | None = None
    ) -> PreKeys:
        """Fresh material: a signed prekey (id 1) and `target` prekeys (ids 1 … target)."""
        signed = SignedPreKey.generate(version, identity.seed, time.time() if now is None else now)
        state = _X3dhState(_MODEL_VERSION, identity.seed, "SEED", signed, None, {})
        pre_keys = cls(
            version,
            state,
            signed_pre_key_ids={signed.pub: 1},
            pre_key_ids={},
            next_ids=(2, 1),
            hidden=set(),
            older_signed_pre_keys=[],
        )
        pre_keys.refill(target)
        return pre_keys

    # --- persistence -------------------------------------------------------------------------

    def to_json(self) -> JsonObject:
        """The persisted form."""
        return {
            "version": PRE_KEYS_VERSION,
            "state": self._state.to_json(),
            "signed_pre_key_ids": {b64(pub): i for pub, i in self.signed_pre_key_ids.items()},
            "pre_key_ids": {b64(pub): i for pub, i in self.pre_key_ids.items()},
            "next_signed_pre_key_id": self.next_signed_pre_key_id,
            "next_pre_key_id": self.next_pre_key_id,
            "hidden": [b64(pub) for pub in sorted(self.hidden)],
            "older_signed_pre_keys": [m.to_json() for m in self.older_signed_pre_keys],
        }

    @classmethod
    def from_json(cls, version: Version, value: JsonObject) -> PreKeys:
        """Inverse of `to_json`.

        Raises:
            StateCorrupted: unknown version or bad fields.
        """
        check_version(value, "x3dh", PRE_KEYS_VERSION)
        try:
            state = _X3dhState.from_json(get_object(value, "state"))
            hidden_raw = value.get("hidden")
            older_raw = value.get("older_signed_pre_keys")
            if not isinstance(hidden_raw, list) or not isinstance(older_raw, list):
                raise StateCorrupted("x3dh: bad hidden/older lists")
            older = [SignedPreKey.from_json(m) for m in older_raw]
        except (ValueError, KeyError, TypeError) as error:  # incl. pydantic validation
            raise StateCorrupted("x3dh: bad state") from error
        return cls(
            version,
            state,
            signed_pre_key_ids=_ids(value, "signed_pre_key_ids"),
            pre_key_ids=_ids(value, "pre_key_ids"),
            next_ids=(get_int(value, "next_signed_pre_key_id"), get_int(value, "next_pre_key_id")),
            hidden={unb64(pub) for pub in hidden_raw},
            older_signed_pre_keys=older,
        )

    # --- the bundle --------------------------------------------------------------------------

    def _pre_keys_by_pub(self) -> dict[bytes, bytes]:
        if self._by_pub is None:
            self._by_pub = {curve_pub(priv): priv for priv in self._state.pre_keys}
        return self._by_pub

    def _unnamed_ids(self) -> dict[bytes, int]:
        """The ids of prekeys that have none in `pre_key_ids` yet: `next_pre_key_id` onwards, in
        the order of their public keys. They stay the same until `_name_all` stores them."""
        if self._unnamed is None:
            unnamed = sorted(self._pre_keys_by_pub().keys() - self.pre_key_ids.keys())
            self._unnamed = {pub: self.next_pre_key_id + i for i, pub in enumerate(unnamed)}
        return self._unnamed

    def _name_all(self) -> None:
        """Store the ids of unnamed prekeys (before anything changes the set of prekeys or the
        next id, which would change them)."""
        unnamed = self._unnamed_ids()
        self.pre_key_ids.update(unnamed)
        self.next_pre_key_id += len(unnamed)
        self._unnamed = {}

    def pre_key_id(self, pre_key_pub: bytes) -> int | None:
        """The id of one of our prekeys."""
        key_id = self.pre_key_ids.get(pre_key_pub)
        return key_id if key_id is not None else self._unnamed_ids().get(pre_key_pub)

    def bundle(self, identity_key_ed25519: bytes) -> x3dh.Bundle:
        """x3dh's view of our bundle (all prekeys, hidden ones included)."""
        signed = self._state.signed
        return x3dh.Bundle(
            identity_key_ed25519, signed.pub, signed.sig, frozenset(self._pre_keys_by_pub())
        )

    def wire_bundle(self, identity_key_ed25519: bytes) -> WireBundle:
        """Our bundle as published: hidden prekeys left out."""
        bundle = self.bundle(identity_key_ed25519)
        visible = bundle._replace(pre_keys=bundle.pre_keys - self.hidden)
        return self.version.bundle_to_wire(
            visible,
            self.signed_pre_key_ids[bundle.signed_pre_key],
            {**self.pre_key_ids, **self._unnamed_ids()},
        )

    def visible_count(self) -> int:
        """Prekeys published (not hidden)."""
        if not self.hidden and self._by_pub is None:
            return len(self._state.pre_keys)  # no derivation needed
        return len(self._pre_keys_by_pub().keys() - self.hidden)

    def refill(self, target: int) -> bool:
        """Generate prekeys until `target` are visible. The new ones get fresh ids, in the
        order of their public keys, when something next needs them (`_unnamed_ids`): a new
        device derives no public key until its bundle is asked for, as python-omemo does.

        Returns:
            Whether any were generated.
        """
        missing = target - self.visible_count()
        if missing <= 0:
            return False
        if self._state.pre_keys:
            self._name_all()
        randomness = secrets.token_bytes(32 * missing)  # one system call for all of them
        for start in range(0, len(randomness), 32):
            self._state.pre_keys[randomness[start : start + 32]] = None
        self._by_pub = self._unnamed = None
        return True

    # --- key exchanges -----------------------------------------------------------------------

    def pre_key_pub(self, pre_key_id: int | None) -> bytes:
        """The prekey with `pre_key_id` (hidden ones included).

        Raises:
            UnknownPreKey: none, or not (any more) ours.
        """
        if pre_key_id is None:
            raise UnknownPreKey("key exchange without a prekey")
        by_pub = self._pre_keys_by_pub()
        for pub, key_id in (*self.pre_key_ids.items(), *self._unnamed_ids().items()):
            if key_id == pre_key_id and pub in by_pub:
                return pub
        raise UnknownPreKey(f"unknown prekey id {pre_key_id}")

    def pre_key_priv(self, pre_key_pub: bytes) -> bytes | None:
        """The private key of one of our prekeys (hidden ones included), or None."""
        return self._pre_keys_by_pub().get(pre_key_pub)

    def signed_pre_key_pub(self, signed_pre_key_id: int) -> bytes:
        """The (current or kept old) signed prekey with `signed_pre_key_id`.

        Raises:
            UnknownPreKey: not (any more) ours.
        """
        for pub, key_id in self.signed_pre_key_ids.items():
            if key_id == signed_pre_key_id:
                return pub
        raise UnknownPreKey(f"unknown signed prekey id {signed_pre_key_id}")

    def signed_pre_key_priv(self, signed_pre_key_pub: bytes) -> bytes | None:
        """The private key of the current, the old or a kept older signed prekey, or None."""
        state = self._state
        candidates = [state.signed]
        if state.old_signed is not None:
            candidates.append(state.old_signed)
        for signed in (*candidates, *self.older_signed_pre_keys):
            if signed.pub == signed_pre_key_pub:
                return signed.priv
        return None

    def _delete_pre_key(self, pub: bytes) -> None:
        self._name_all()
        priv = self._pre_keys_by_pub().pop(pub, None)
        if priv is not None:
            self._state.pre_keys.pop(priv, None)
        self.pre_key_ids.pop(pub, None)

    def consume(self, pre_key_pub: bytes, *, hide: bool, target: int) -> None:
        """A key exchange used `pre_key_pub`: hide it (catch-up) or delete it, then refill."""
        if hide:
            self._name_all()
            self.hidden.add(pre_key_pub)
        else:
            self._delete_pre_key(pre_key_pub)
        self.refill(target)

    def delete_hidden(self) -> bool:
        """Delete every hidden prekey. Returns whether there were any."""
        for pub in self.hidden:
            self._delete_pre_key(pub)
        had_hidden = bool(self.hidden)
        self.hidden = set()
        return had_hidden

    # --- signed prekey rotation ----------------------------------------------------------------

    def signed_pre_key_age(self, now: float) -> float:
        """Seconds since the current signed prekey was generated."""
        return now - self._state.signed.timestamp

    def rotate(self, keep: int, identity_seed: bytes, now: float | None = None) -> None:
        """New signed prekey; `keep` old ones stay usable (at least the one x3dh keeps)."""
        state = self._state
        old = state.old_signed
        if old is not None:
            self.older_signed_pre_keys.insert(0, old)
        state.old_signed = state.signed
        state.signed = SignedPreKey.generate(
            self.version, identity_seed, time.time() if now is None else now
        )
        self.signed_pre_key_ids[state.signed.pub] = self.next_signed_pre_key_id
        self.next_signed_pre_key_id += 1
        dropped = self.older_signed_pre_keys[max(keep - 1, 0) :]
        del self.older_signed_pre_keys[max(keep - 1, 0) :]
        for model in dropped:
            self.signed_pre_key_ids.pop(model.pub, None)
        if keep < 1 and old is not None:
            self.signed_pre_key_ids.pop(old.pub, None)
