"""Immutable facts about our own device, derived once per engine.

Besides the catch-up flag, this is all the engine keeps in memory (engine.py: no cache of mutable
state): the identity, our bare JID, and the encodings of the identity key that X3DH, the
associated data and the key exchange need, so no operation derives them again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tui_omemo.model import DeviceRef, Namespace, bare_jid
from tui_omemo.protocol.identity import Identity
from tui_omemo.protocol.versions import ALL_VERSIONS


@dataclass(frozen=True, slots=True)
class OwnDevice:
    """Our device: identity, bare JID and the identity key in every form the versions use.

    Attributes:
        identity: device id and identity seed.
        bare_jid: our account's bare JID (normalised).
        identity_key_ed: the identity key in Ed25519 form (what OMEMO 2 publishes).
        identity_key_curve: the identity key in Curve25519 form (the fingerprint).
        identity_priv: the identity private key (for X3DH).
        ad_identity_key: per namespace, our identity key as X3DH's associated data encodes it
            (0.3: 0x05‖curve, 2: Ed25519); our key exchanges carry the same bytes.
    """

    identity: Identity
    bare_jid: str
    identity_key_ed: bytes
    identity_key_curve: bytes
    identity_priv: bytes
    ad_identity_key: Mapping[Namespace, bytes]

    @classmethod
    def of(cls, identity: Identity, own_bare_jid: str) -> OwnDevice:
        """Derive every form of `identity`'s key once."""
        ed, curve = identity.identity_key_ed25519, identity.identity_key_curve25519
        return cls(
            identity=identity,
            bare_jid=bare_jid(own_bare_jid),
            identity_key_ed=ed,
            identity_key_curve=curve,
            identity_priv=identity.private_key,
            ad_identity_key={v.namespace: v.x3dh_ad_key(ed, curve) for v in ALL_VERSIONS},
        )

    @property
    def device_id(self) -> int:
        """Our device id, the same in both namespaces."""
        return self.identity.device_id

    @property
    def ref(self) -> DeviceRef:
        """Our device as a `DeviceRef`."""
        return DeviceRef(self.bare_jid, self.identity.device_id)

    def wire_identity_key(self, namespace: Namespace) -> bytes:
        """Our identity key as our key exchanges in `namespace` carry it."""
        return self.ad_identity_key[namespace]
