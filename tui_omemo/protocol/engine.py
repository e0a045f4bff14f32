"""The OMEMO engine: one per own account and device, across both OMEMO versions.

`Engine` owns the ratchets: it builds sessions from bundles (active) and from key exchanges
(passive), encrypts for sets of devices and decrypts what is addressed to our device. It speaks
`elements.py` values (bytes, ints, bare-JID strings) and talks to its host only through the
ports of `ports.py`.

Shape, and why:

* **No writes during encrypt/decrypt.** Every operation reads the state it needs through the
  `StateStore`, works on copies and returns `StateChanges`; the host commits them in the same
  transaction as the archived message (DESIGN.md §3.1) or calls `Engine.commit`. A failed
  operation raises a `ProtocolError` and there is nothing to commit: state stays byte-identical.
* **No cache of mutable state.** The only things kept in memory are immutable facts about our own
  device (its id and identity key), so an uncommitted or aborted change is never served back.
  The host must commit (or drop) one operation's changes before starting the next operation that
  touches the same session.
* **Trust stays outside.** `encrypt` takes a `TrustDecider` that returns the effective
  `TrustLevel` of a device's identity key; BTBV lives in `protocol/trust.py` and the service.
* **Creation is the only direct write.** `Engine.create` generates a new identity only when the
  store holds none, writes it through the port before returning, and refuses to regenerate over
  partial state (`StateCorrupted`).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import TypeAlias

from tui_omemo.model import DeviceRef, Namespace, TrustLevel
from tui_omemo.protocol.elements import EncryptedElement, WireBundle
from tui_omemo.protocol.errors import (
    AuthenticationFailed,
    BundleUnavailable,
    Duplicate,
    InvalidBundle,
    MalformedMessage,
    NoSession,
    NotForThisDevice,
    ProtocolError,
    StateCorrupted,
    TooManySkipped,
    UnknownPreKey,
    UnsupportedKeyMaterial,
)
from tui_omemo.protocol.ports import (
    DELETE,
    Directory,
    StateChanges,
    StateStore,
    apply_changes,
)
from tui_omemo.protocol.results import DecryptResult, EncryptResult, SessionInfo, SkipReason
from tui_omemo.protocol.settings import CoreSettings

__all__ = [
    "DELETE",
    "AuthenticationFailed",
    "BundleUnavailable",
    "CoreSettings",
    "DecryptResult",
    "Directory",
    "Duplicate",
    "EncryptResult",
    "Engine",
    "InvalidBundle",
    "MalformedMessage",
    "NoSession",
    "NotForThisDevice",
    "ProtocolError",
    "SessionInfo",
    "SkipReason",
    "StateChanges",
    "StateCorrupted",
    "StateStore",
    "TooManySkipped",
    "TrustDecider",
    "UnknownPreKey",
    "UnsupportedKeyMaterial",
]

TrustDecider: TypeAlias = Callable[[DeviceRef, bytes], "TrustLevel | Awaitable[TrustLevel]"]
"""Decides whether a device may receive keys: (device, Curve25519 identity key) → effective level.

VERIFIED and BLINDLY_TRUSTED get keys, UNDECIDED and DISTRUSTED are skipped. May be sync or async.
"""

Recipient: TypeAlias = str | DeviceRef
"""A bare JID (all devices on its current list) or one device (skipped as INACTIVE if unlisted)."""


async def decide_trust(decider: TrustDecider, device: DeviceRef, identity_key: bytes) -> TrustLevel:
    """Call a sync or async `TrustDecider`."""
    decision = decider(device, identity_key)
    if inspect.isawaitable(decision):
        return await decision
    return decision


class Engine:
    """The OMEMO engine of one own device (both namespaces, one device id, one identity key)."""

    def __init__(self) -> None:
        """Use `Engine.create`."""
        raise NotImplementedError

    @classmethod
    async def create(
        cls,
        own_bare_jid: str,
        store: StateStore,
        directory: Directory,
        settings: CoreSettings | None = None,
        *,
        taken_device_ids: Collection[int] | None = None,
    ) -> Engine:
        """Load our device's state, or create it when the store holds none.

        Args:
            own_bare_jid: our account's bare JID.
            store: where the state lives.
            directory: where bundles and device lists come from.
            settings: protocol settings (defaults per DESIGN.md §4).
            taken_device_ids: ids a new device id must avoid; when None, the own device lists of
                both namespaces are fetched through `directory`.

        Raises:
            StateCorrupted: part of the state exists but not all (never regenerated over).
        """
        raise NotImplementedError

    @property
    def device_id(self) -> int:
        """Our device id (1 … 2^31−1), the same in both namespaces."""
        raise NotImplementedError

    @property
    def own_bare_jid(self) -> str:
        """Our bare JID."""
        raise NotImplementedError

    @property
    def identity_key(self) -> bytes:
        """Our identity key in Curve25519 form (32 B): what our fingerprint shows."""
        raise NotImplementedError

    @property
    def identity_key_ed25519(self) -> bytes:
        """Our identity key in Ed25519 form (32 B): what OMEMO 2 publishes."""
        raise NotImplementedError

    async def bundle(self, namespace: Namespace) -> WireBundle:
        """Our bundle to publish for `namespace` (hidden prekeys left out)."""
        raise NotImplementedError

    async def encrypt(
        self,
        namespace: Namespace,
        recipients: Iterable[Recipient],
        plaintext: bytes | None,
        trust: TrustDecider,
    ) -> EncryptResult:
        """Encrypt once, with one `<key>` per trusted recipient device.

        Our own other devices are always included (through our own device list); this device
        never is. Sessions missing for a device are built from its bundle.

        Args:
            namespace: which OMEMO version.
            recipients: bare JIDs and/or single devices.
            plaintext: 0.3: the body bytes; 2: the serialized SCE envelope; None for an empty
                (key-transport) message, which needs no trust decision.
            trust: the effective trust of each device's identity key.

        Returns:
            The element, the skipped devices with reasons, and the state changes to commit.
        """
        raise NotImplementedError

    async def decrypt(self, element: EncryptedElement, sender_bare_jid: str) -> DecryptResult:
        """Decrypt the key addressed to this device, then the payload.

        Args:
            element: the received `<encrypted>` element.
            sender_bare_jid: the bare JID the stanza came from (for MUC: the sender's real JID).

        Raises:
            NotForThisDevice, NoSession, Duplicate, AuthenticationFailed, TooManySkipped,
            MalformedMessage, UnknownPreKey, UnsupportedKeyMaterial: and nothing changed.
        """
        raise NotImplementedError

    async def maintain(self, now: float | None = None) -> tuple[StateChanges, bool]:
        """Rotate signed prekeys that are too old and refill prekeys, for both namespaces.

        Returns:
            The changes and whether the bundles changed (publish them after committing).
        """
        raise NotImplementedError

    def begin_catch_up(self) -> None:
        """From now on, prekeys used by key exchanges are hidden, not deleted (MAM catch-up)."""
        raise NotImplementedError

    async def end_catch_up(self) -> StateChanges:
        """Delete the prekeys hidden during catch-up and leave catch-up mode."""
        raise NotImplementedError

    async def session_info(self, namespace: Namespace, device: DeviceRef) -> SessionInfo | None:
        """The stored session with `device`, if any."""
        raise NotImplementedError

    async def delete_session(self, namespace: Namespace, device: DeviceRef) -> StateChanges:
        """Forget the session with `device` (manual rebuild: then send an empty message)."""
        raise NotImplementedError

    async def commit(self, changes: StateChanges) -> None:
        """Apply `changes` through the `StateStore` port, in order (hosts without transactions)."""
        await apply_changes(self._store, changes)

    _store: StateStore
