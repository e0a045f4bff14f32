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
  device (its id, identity key and their encodings, derived once per engine) and the memo of
  derived public keys in `keys.py` (a pure function of a private key, keyed by its hash), so an
  uncommitted or aborted change is never served back.
  The host runs one operation per engine at a time and commits (or drops) its changes before
  the next one starts: two uncommitted operations on the same session would reuse a chain key.
* **Trust stays outside.** `encrypt` takes a `TrustDecider` that returns the effective
  `TrustLevel` of a device's identity key; BTBV lives in `protocol/trust.py` and the service.
* **Work once per message, not per device.** The payload is encrypted once; per device there is
  one ratchet step on the session's stored JSON (`session.RatchetView`) and the AEAD. X3DH runs
  from the keys we hold (`agreement.py`) instead of through x3dh's `BaseState`.
* **Creation is the only direct write.** `Engine.create` generates a new identity only when the
  store holds none, writes it through the port before returning, and refuses to regenerate over
  partial state (`StateCorrupted`).

`Engine` is the face; the work is split by concern: `encryption.py` (recipients, trust, active
sessions), `decryption.py` (the ratchet step, passive sessions), `upkeep.py` (creation, prekey
refill and rotation, catch-up), `operation.py` (one call's pending changes over the store,
skipped keys) and `own_device.py` (what the engine derives once about our device).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable

from tui_omemo.model import DeviceRef, Namespace, bare_jid
from tui_omemo.protocol.decryption import Decryptor
from tui_omemo.protocol.elements import EncryptedElement, WireBundle
from tui_omemo.protocol.encryption import Encryptor, Recipient, TrustDecider, no_trust_needed
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
from tui_omemo.protocol.identity import Identity
from tui_omemo.protocol.operation import Operation
from tui_omemo.protocol.own_device import OwnDevice
from tui_omemo.protocol.ports import DELETE, Directory, StateChanges, StateStore, apply_changes
from tui_omemo.protocol.results import DecryptResult, EncryptResult, SessionInfo, SkipReason
from tui_omemo.protocol.session import restore_ratchet, session_key
from tui_omemo.protocol.settings import CoreSettings
from tui_omemo.protocol.upkeep import delete_hidden, load_or_create_identity, maintain
from tui_omemo.protocol.versions import version_for

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
    "Recipient",
    "SessionInfo",
    "SkipReason",
    "StateChanges",
    "StateCorrupted",
    "StateStore",
    "TooManySkipped",
    "TrustDecider",
    "UnknownPreKey",
    "UnsupportedKeyMaterial",
    "apply_changes",
]


class Engine:
    """The OMEMO engine of one own device (both namespaces, one device id, one identity key)."""

    def __init__(
        self,
        *,
        identity: Identity,
        own_bare_jid: str,
        store: StateStore,
        directory: Directory,
        settings: CoreSettings,
    ) -> None:
        """Use `Engine.create`, which loads or creates `identity`."""
        self._own = OwnDevice.of(identity, own_bare_jid)
        self._store = store
        self._settings = settings
        self._catching_up = False
        self._encryptor = Encryptor(self._own, directory, settings)
        self._decryptor = Decryptor(self._own, settings)

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

        A new device's state is written through `store` before this returns (prekey states
        first, the identity last, so a crash in between is detected as `StateCorrupted`).

        Args:
            own_bare_jid: our account's bare JID.
            store: where the state lives.
            directory: where bundles and device lists come from.
            settings: protocol settings (defaults per DESIGN.md §4).
            taken_device_ids: ids a new device id must avoid; when None, the own device lists of
                both namespaces are fetched through `directory`.

        Raises:
            StateCorrupted: part of the state exists but not all, or a stored value is unusable
                (never regenerated over).
        """
        settings = settings or CoreSettings()
        own = bare_jid(own_bare_jid)
        identity = await load_or_create_identity(own, store, directory, settings, taken_device_ids)
        return cls(
            identity=identity, own_bare_jid=own, store=store, directory=directory, settings=settings
        )

    # --- facts about our device ----------------------------------------------------------------

    @property
    def device_id(self) -> int:
        """Our device id (1 … 2^31−1), the same in both namespaces."""
        return self._own.device_id

    @property
    def own_bare_jid(self) -> str:
        """Our bare JID."""
        return self._own.bare_jid

    @property
    def own_device(self) -> DeviceRef:
        """Our device as a `DeviceRef`."""
        return self._own.ref

    @property
    def identity_key(self) -> bytes:
        """Our identity key in Curve25519 form (32 B): what our fingerprint shows."""
        return self._own.identity_key_curve

    @property
    def identity_key_ed25519(self) -> bytes:
        """Our identity key in Ed25519 form (32 B): what OMEMO 2 publishes."""
        return self._own.identity_key_ed

    @property
    def settings(self) -> CoreSettings:
        """The settings this engine runs with."""
        return self._settings

    @property
    def catching_up(self) -> bool:
        """Whether used prekeys are currently hidden instead of deleted."""
        return self._catching_up

    def sign_device_label(self, label: str) -> bytes:
        """`labelsig` for our OMEMO 2 device-list entry: Ed25519 signature over the UTF-8 label.

        Check others' labels with `tui_omemo.protocol.identity.verify_device_label`.
        """
        return self._own.identity.sign(label.encode())

    async def bundle(self, namespace: Namespace) -> WireBundle:
        """Our bundle to publish for `namespace` (hidden prekeys left out)."""
        pre_keys = await Operation(self._store).pre_keys(version_for(namespace))
        return pre_keys.wire_bundle(self._own.identity_key_ed)

    # --- encryption and decryption --------------------------------------------------------------

    async def encrypt(
        self,
        namespace: Namespace,
        recipients: Iterable[Recipient],
        plaintext: bytes | None,
        trust: TrustDecider,
        *,
        own_devices: bool = True,
    ) -> EncryptResult:
        """Encrypt once, with one `<key>` per trusted recipient device.

        With a plaintext, our own other devices are included (through our own device list)
        unless `own_devices` is False (the host then names the ones it wants, e.g. those it
        reaches in the other version); this device never is. An empty message (plaintext
        None) goes only to the named recipients and needs no trust decision (XEP-0384
        §Security). Sessions missing for a device are built from its bundle (and their key is
        a key exchange).

        Args:
            namespace: which OMEMO version.
            recipients: bare JIDs (every device on their current list) and/or single devices
                (skipped as INACTIVE when not on their JID's current list).
            plaintext: 0.3: the body bytes; 2: the serialized SCE envelope; None for an empty
                (key-transport) message.
            trust: the effective trust of each device's identity key.
            own_devices: add our own other devices from our device list (with a plaintext).

        Returns:
            The element, the skipped devices with reasons, and the state changes to commit.
        """
        return await self._encryptor.encrypt(
            Operation(self._store), namespace, recipients, plaintext, trust, own_devices=own_devices
        )

    async def decrypt(self, element: EncryptedElement, sender_bare_jid: str) -> DecryptResult:
        """Decrypt the key addressed to this device, then the payload.

        Args:
            element: the received `<encrypted>` element.
            sender_bare_jid: the bare JID the stanza came from (for MUC: the sender's real JID).

        Raises:
            NotForThisDevice, NoSession, Duplicate, AuthenticationFailed, TooManySkipped,
            MalformedMessage, UnknownPreKey, UnsupportedKeyMaterial, StateCorrupted: and
            nothing changed.
        """
        return await self._decryptor.decrypt(
            Operation(self._store), element, sender_bare_jid, hide=self._catching_up
        )

    # --- maintenance ----------------------------------------------------------------------------

    async def maintain(self, now: float | None = None) -> tuple[StateChanges, bool]:
        """Rotate signed prekeys that are too old and refill prekeys, for both namespaces.

        Args:
            now: the current time (seconds since the epoch), for tests.

        Returns:
            The changes and whether the bundles changed (publish them after committing).
        """
        op = Operation(self._store)
        now = time.time() if now is None else now
        changed = await maintain(op, self._own.identity, self._settings, now)
        return op.changes, changed

    def begin_catch_up(self) -> None:
        """From now on, prekeys used by key exchanges are hidden, not deleted (MAM catch-up)."""
        self._catching_up = True

    async def end_catch_up(self) -> StateChanges:
        """Delete the prekeys hidden during catch-up and leave catch-up mode.

        After committing, the host should send an empty message to devices that built sessions
        during catch-up (XEP-0384: move off a possibly double-used prekey).
        """
        self._catching_up = False
        op = Operation(self._store)
        await delete_hidden(op)
        return op.changes

    # --- sessions -------------------------------------------------------------------------------

    async def session_info(self, namespace: Namespace, device: DeviceRef) -> SessionInfo | None:
        """The stored session with `device`, if any."""
        session = await Operation(self._store).session(namespace, device)
        if session is None:
            return None
        ratchet = restore_ratchet(
            version_for(namespace), session, self._settings.max_skipped_message_keys
        )
        return SessionInfo(
            namespace,
            session.device,
            session.identity_key_curve,
            session.active,
            session.confirmed,
            ratchet.sending_chain_length,
            ratchet.receiving_chain_length,
        )

    async def delete_session(self, namespace: Namespace, device: DeviceRef) -> StateChanges:
        """Forget the session with `device` (manual rebuild: then send an empty message)."""
        op = Operation(self._store)
        await op.delete_skipped(await op.session(namespace, device))
        op.changes.delete(session_key(namespace, device))
        return op.changes

    async def rebuild_session(self, namespace: Namespace, device: DeviceRef) -> EncryptResult:
        """Manual "reset session": forget the session, build a new one from the device's current
        bundle and put an empty message (a key exchange) on it, as one unit of work.

        The device is reported in `EncryptResult.skipped` (e.g. NO_BUNDLE) when no new session
        could be built; the old one is then still deleted by the changes.
        """
        deletion = await self.delete_session(namespace, device)
        return await self._encryptor.encrypt(
            Operation(self._store, deletion), namespace, [device], None, no_trust_needed
        )

    async def commit(self, changes: StateChanges) -> None:
        """Apply `changes` through the `StateStore` port, in order (hosts without transactions)."""
        await apply_changes(self._store, changes)
