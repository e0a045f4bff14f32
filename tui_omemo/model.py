"""Plain values shared by every layer: namespaces, trust levels, devices, messages.

Nothing here does I/O. Values are frozen so that they can cross threads (the store's
runner thread, the event loop) without copies.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Namespace(enum.StrEnum):
    """The two OMEMO versions, named by their XML namespace."""

    LEGACY = "eu.siacs.conversations.axolotl"  # OMEMO 0.3, what Conversations, Dino, Gajim speak
    V2 = "urn:xmpp:omemo:2"

    @property
    def label(self) -> str:
        """The short name shown to people and used on the command line ("0.3" or "2")."""
        return "0.3" if self is Namespace.LEGACY else "2"

    @classmethod
    def from_label(cls, label: str) -> Namespace:
        """Parse "0.3" or "2" (as typed on the command line).

        Raises:
            ValueError: for anything else.
        """
        for namespace in cls:
            if namespace.label == label:
                return namespace
        raise ValueError(f"unknown OMEMO version {label!r}: use 0.3 or 2")


class TrustLevel(enum.StrEnum):
    """The closed set of trust states of one device (identity key) of one bare JID."""

    UNDECIDED = "undecided"
    BLINDLY_TRUSTED = "blindly_trusted"
    VERIFIED = "verified"
    DISTRUSTED = "distrusted"


def bare_jid(jid: str) -> str:
    """The bare JID (localpart@domain, lower-cased domain and localpart) of a full or bare JID.

    Resource parts keep their case; they are dropped here.
    """
    bare = jid.split("/", 1)[0]
    return bare.lower()


@dataclass(frozen=True, slots=True)
class DeviceRef:
    """One OMEMO device: a bare JID and a device id (1 … 2^31−1)."""

    bare_jid: str
    device_id: int
