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
"""

from __future__ import annotations

import inspect
import secrets
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeAlias, assert_never

import doubleratchet
import x3dh
import xeddsa

from tui_omemo.model import DeviceRef, Namespace, TrustLevel, bare_jid
from tui_omemo.protocol.agreement import agree_active, agree_passive
from tui_omemo.protocol.codec import b64, unb64
from tui_omemo.protocol.elements import DeviceList, EncryptedElement, KeyElement, WireBundle
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
from tui_omemo.protocol.identity import IDENTITY_KEY, Identity, PreKeys, pre_keys_key
from tui_omemo.protocol.keys import is_canonical, new_key_pair
from tui_omemo.protocol.ports import (
    DELETE,
    Directory,
    JsonObject,
    Overlay,
    StateChanges,
    StateStore,
    apply_changes,
)
from tui_omemo.protocol.ratchet import PackingDoubleRatchet, RatchetMessage
from tui_omemo.protocol.results import DecryptResult, EncryptResult, SessionInfo, SkipReason
from tui_omemo.protocol.session import (
    RatchetView,
    Session,
    encrypt_key_material,
    new_skipped_keys,
    ratchet_json,
    restore_ratchet,
    session_key,
    skipped_key,
    skipped_order_key,
)
from tui_omemo.protocol.settings import CoreSettings
from tui_omemo.protocol.version import KeyExchange, ParsedBundle, Version
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

TrustDecider: TypeAlias = Callable[[DeviceRef, bytes], "TrustLevel | Awaitable[TrustLevel]"]
"""Decides whether a device may receive keys: (device, Curve25519 identity key) → effective level.

VERIFIED and BLINDLY_TRUSTED get keys, UNDECIDED and DISTRUSTED are skipped. May be sync or async.
"""

Recipient: TypeAlias = str | DeviceRef
"""A bare JID (all devices on its current list) or one device (skipped as INACTIVE if unlisted)."""


async def decide_trust(decider: TrustDecider, device: DeviceRef, identity_key: bytes) -> TrustLevel:
    """Call a sync or async `TrustDecider`."""
    decision = decider(device, identity_key)
    if isinstance(decision, TrustLevel):  # the common sync answer, before the ABC check
        return decision
    if inspect.isawaitable(decision):
        return await decision
    return decision


def _no_trust_needed(device: DeviceRef, identity_key: bytes) -> TrustLevel:
    """Empty messages are never asked about trust; this decider is never called."""
    raise AssertionError("empty messages need no trust decision")


_VERSIONS: tuple[Version, ...] = (version_for(Namespace.LEGACY), version_for(Namespace.V2))


def _skip_reason(level: TrustLevel) -> SkipReason | None:
    """The reason a device with effective trust `level` gets no key, or None if it gets one."""
    match level:
        case TrustLevel.VERIFIED | TrustLevel.BLINDLY_TRUSTED:
            return None
        case TrustLevel.UNDECIDED:
            return SkipReason.UNDECIDED
        case TrustLevel.DISTRUSTED:
            return SkipReason.UNTRUSTED
        case _:
            assert_never(level)


@contextmanager
def _ratchet_errors() -> Iterator[None]:
    """Map doubleratchet's exceptions to ours."""
    try:
        yield
    except doubleratchet.AuthenticationFailedException as error:
        raise AuthenticationFailed("ratchet MAC mismatch") from error
    except doubleratchet.DecryptionFailedException as error:
        raise MalformedMessage(str(error)) from error
    except doubleratchet.DoSProtectionException as error:
        raise TooManySkipped(str(error)) from error
    except doubleratchet.DuplicateMessageException as error:
        raise Duplicate("message already decrypted") from error
    except (xeddsa.XEdDSAException, ValueError) as error:  # unusable (e.g. low-order) keys
        raise MalformedMessage("unusable key in the message") from error


class _Operation:
    """One engine call: pending changes laid over the store, and state loaded on demand."""

    def __init__(self, store: StateStore, base: StateChanges | None = None) -> None:
        self.changes = StateChanges(dict(base.writes)) if base is not None else StateChanges()
        self._view = Overlay(store, self.changes)
        self._pre_keys: dict[Namespace, PreKeys] = {}

    async def pre_keys(self, version: Version) -> PreKeys:
        """Our prekey material of `version` (loaded once per operation)."""
        if version.namespace not in self._pre_keys:
            stored = await self._view.load(pre_keys_key(version))
            if stored is None:
                raise StateCorrupted(f"no prekey state for {version.namespace.label}")
            self._pre_keys[version.namespace] = PreKeys.from_json(version, stored)
        return self._pre_keys[version.namespace]

    def save_pre_keys(self, version: Version) -> None:
        """Record the (modified) prekey material of `version`."""
        self.changes.put(pre_keys_key(version), self._pre_keys[version.namespace].to_json())

    async def load(self, key: str) -> JsonObject | None:
        """Any value, with this operation's writes applied."""
        return await self._view.load(key)

    async def session(self, namespace: Namespace, device: DeviceRef) -> Session | None:
        """The session with `device`, with this operation's writes applied."""
        stored = await self._view.load(session_key(namespace, device))
        return None if stored is None else Session.from_json(stored)

    def save_session(self, session: Session) -> None:
        """Record `session`."""
        self.changes.put(session_key(session.namespace, session.device), session.to_json())


@dataclass(frozen=True, slots=True)
class _Decrypted:
    """The ratchet step of a decryption, before the payload."""

    session: Session
    key_material: bytes
    key_exchange: bool = False
    pre_key_consumed: bool = False
    answer: bool = False
    heartbeat_due: bool = False


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
        self._identity = identity
        self._own_bare_jid = bare_jid(own_bare_jid)
        self._store = store
        self._directory = directory
        self._settings = settings
        self._catching_up = False
        self._identity_key_ed = identity.identity_key_ed25519
        self._identity_key_curve = identity.identity_key_curve25519
        self._identity_priv = identity.private_key
        self._ad_identity_key = {
            v.namespace: v.x3dh_ad_key(self._identity_key_ed, self._identity_key_curve)
            for v in _VERSIONS
        }
        # the key exchange carries our identity key as X3DH encodes it (0.3: 0x05‖curve, 2: Ed)
        self._wire_identity_key = self._ad_identity_key

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
        stored_identity = await store.load(IDENTITY_KEY)
        stored_pre_keys = [await store.load(pre_keys_key(v)) for v in _VERSIONS]
        if stored_identity is not None:
            identity = Identity.from_json(stored_identity)
            for version, stored in zip(_VERSIONS, stored_pre_keys, strict=True):
                if stored is None:
                    raise StateCorrupted(f"identity without prekey state {version.namespace}")
                PreKeys.from_json(version, stored)
        elif any(stored is not None for stored in stored_pre_keys):
            raise StateCorrupted("prekey state without an identity")
        else:
            if taken_device_ids is None:
                taken_device_ids = await cls._own_device_ids(directory, own)
            identity = Identity.generate(taken_device_ids)
            for version in _VERSIONS:
                pre_keys = PreKeys.create(version, identity, settings.pre_keys_target)
                await store.store(pre_keys_key(version), pre_keys.to_json())
            await store.store(IDENTITY_KEY, identity.to_json())
        return cls(
            identity=identity, own_bare_jid=own, store=store, directory=directory, settings=settings
        )

    @staticmethod
    async def _own_device_ids(directory: Directory, own: str) -> set[int]:
        taken: set[int] = set()
        for version in _VERSIONS:
            taken |= (await directory.fetch_device_list(version.namespace, own)).device_ids
        return taken

    # --- facts about our device ----------------------------------------------------------------

    @property
    def device_id(self) -> int:
        """Our device id (1 … 2^31−1), the same in both namespaces."""
        return self._identity.device_id

    @property
    def own_bare_jid(self) -> str:
        """Our bare JID."""
        return self._own_bare_jid

    @property
    def own_device(self) -> DeviceRef:
        """Our device as a `DeviceRef`."""
        return DeviceRef(self._own_bare_jid, self._identity.device_id)

    @property
    def identity_key(self) -> bytes:
        """Our identity key in Curve25519 form (32 B): what our fingerprint shows."""
        return self._identity_key_curve

    @property
    def identity_key_ed25519(self) -> bytes:
        """Our identity key in Ed25519 form (32 B): what OMEMO 2 publishes."""
        return self._identity_key_ed

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
        return self._identity.sign(label.encode())

    async def bundle(self, namespace: Namespace) -> WireBundle:
        """Our bundle to publish for `namespace` (hidden prekeys left out)."""
        version = version_for(namespace)
        return (await _Operation(self._store).pre_keys(version)).wire_bundle(self._identity_key_ed)

    # --- encryption -----------------------------------------------------------------------------

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
        return await self._encrypt(
            namespace, recipients, plaintext, trust, StateChanges(), own_devices=own_devices
        )

    async def _encrypt(
        self,
        namespace: Namespace,
        recipients: Iterable[Recipient],
        plaintext: bytes | None,
        trust: TrustDecider,
        base: StateChanges,
        *,
        own_devices: bool = True,
    ) -> EncryptResult:
        """`encrypt` on top of `base` (changes of the same unit of work not yet committed)."""
        version = version_for(namespace)
        targets, skipped = await self._resolve(
            namespace, recipients, own=own_devices and plaintext is not None
        )
        if plaintext is None:
            key_material, iv, payload = version.empty_key_material(), version.empty_iv(), None
        else:
            key_material, iv, encrypted = version.encrypt_payload(plaintext)
            payload = encrypted
        op = _Operation(self._store, base)
        keys: list[KeyElement] = []
        recipients_done: list[DeviceRef] = []
        new_sessions: list[DeviceRef] = []
        for device in targets:
            outcome = await self._encrypt_for(
                op, version, device, key_material, None if plaintext is None else trust
            )
            if isinstance(outcome, SkipReason):
                skipped[device] = outcome
                continue
            key, built = outcome
            keys.append(key)
            recipients_done.append(device)
            if built:
                new_sessions.append(device)
        element = EncryptedElement(namespace, self.device_id, tuple(keys), iv, payload)
        return EncryptResult(
            element, skipped, tuple(recipients_done), tuple(new_sessions), op.changes
        )

    async def _resolve(
        self, namespace: Namespace, recipients: Iterable[Recipient], *, own: bool
    ) -> tuple[list[DeviceRef], dict[DeviceRef, SkipReason]]:
        """The devices to encrypt for, in a stable order, and those skipped on the way."""
        lists: dict[str, frozenset[int]] = {}

        async def ids_of(jid: str) -> frozenset[int]:
            if jid not in lists:
                device_list: DeviceList = await self._directory.fetch_device_list(namespace, jid)
                lists[jid] = device_list.device_ids
            return lists[jid]

        targets: dict[DeviceRef, None] = {}
        skipped: dict[DeviceRef, SkipReason] = {}
        for recipient in recipients:
            if isinstance(recipient, DeviceRef):
                device = DeviceRef(bare_jid(recipient.bare_jid), recipient.device_id)
                if device.device_id in await ids_of(device.bare_jid):
                    targets[device] = None
                else:
                    skipped[device] = SkipReason.INACTIVE
                continue
            jid = bare_jid(recipient)
            ids = await ids_of(jid)
            if not ids and jid != self._own_bare_jid:
                skipped[DeviceRef(jid, 0)] = SkipReason.NO_DEVICES
            targets.update((DeviceRef(jid, device_id), None) for device_id in sorted(ids))
        if own:
            own_ids = await ids_of(self._own_bare_jid)
            targets.update((DeviceRef(self._own_bare_jid, i), None) for i in sorted(own_ids))
        targets.pop(self.own_device, None)
        return list(targets), skipped

    async def _encrypt_for(
        self,
        op: _Operation,
        version: Version,
        device: DeviceRef,
        key_material: bytes,
        trust: TrustDecider | None,
    ) -> tuple[KeyElement, bool] | SkipReason:
        """The `<key>` for one device (and whether a session was built), or why it is skipped."""
        session = await op.session(version.namespace, device)
        bundle: tuple[WireBundle, ParsedBundle] | None = None
        if session is None:
            fetched = await self._fetch_bundle(version, device)
            if isinstance(fetched, SkipReason):
                return fetched
            bundle = fetched
            identity_key = bundle[1].identity_key_curve
        else:
            identity_key = session.identity_key_curve
        if trust is not None:
            reason = _skip_reason(await decide_trust(trust, device, identity_key))
            if reason is not None:
                return reason
        if bundle is not None:
            try:
                session, data = await self._build_active(op, version, device, bundle, key_material)
            except InvalidBundle:
                return SkipReason.INVALID_BUNDLE
            op.save_session(session)
            return KeyElement(device.bare_jid, device.device_id, data, True), True
        assert session is not None
        session, data, exchange = await encrypt_key_material(
            version,
            session,
            key_material,
            own_wire_identity_key=self._wire_identity_key[version.namespace],
            own_device_id=self.device_id,
            max_skipped=self._settings.max_skipped_message_keys,
        )
        op.save_session(session)
        return KeyElement(device.bare_jid, device.device_id, data, exchange), False

    async def _fetch_bundle(
        self, version: Version, device: DeviceRef
    ) -> tuple[WireBundle, ParsedBundle] | SkipReason:
        """The device's bundle, validated, or why there is none to use."""
        try:
            wire_bundle = await self._directory.fetch_bundle(
                version.namespace, device.bare_jid, device.device_id
            )
        except BundleUnavailable:
            return SkipReason.NO_BUNDLE
        try:
            if wire_bundle.namespace is not version.namespace:
                raise InvalidBundle("bundle of the other namespace")
            return wire_bundle, version.parse_bundle(wire_bundle)
        except InvalidBundle:
            return SkipReason.INVALID_BUNDLE

    async def _build_active(
        self,
        op: _Operation,
        version: Version,
        device: DeviceRef,
        bundle: tuple[WireBundle, ParsedBundle],
        key_material: bytes,
    ) -> tuple[Session, bytes]:
        """X3DH with the peer's bundle and the first ratchet message, wrapped in a key exchange."""
        wire_bundle, parsed = bundle
        peer = parsed.bundle  # its signature was checked by `Version.parse_bundle`
        if not peer.pre_keys:
            raise InvalidBundle("bundle without prekeys")
        pre_key = secrets.choice(list(peer.pre_keys))
        ephemeral_priv, ephemeral_pub = new_key_pair()
        peer_curve = parsed.identity_key_curve
        try:
            if not is_canonical(peer_curve):  # x3dh's value: Ed25519 → Curve25519 of the key
                peer_curve = xeddsa.ed25519_pub_to_curve25519_pub(peer.identity_key)
            shared_secret = agree_active(
                version.x3dh_info,
                own_identity_priv=self._identity_priv,
                ephemeral_priv=ephemeral_priv,
                peer_identity_curve=peer_curve,
                signed_pre_key=peer.signed_pre_key,
                pre_key=pre_key,
            )
        except (xeddsa.XEdDSAException, ValueError) as error:
            raise InvalidBundle(str(error)) from error
        ad = self._ad_identity_key[version.namespace] + version.x3dh_ad_key(
            peer.identity_key, peer_curve
        )
        header = x3dh.Header(self._identity_key_ed, ephemeral_pub, peer.signed_pre_key, pre_key)
        ratchet, first = await version.ratchet(
            self._settings.max_skipped_message_keys
        ).encrypt_initial(
            shared_secret,
            parsed.bundle.signed_pre_key,
            key_material,
            version.message_associated_data(ad, active=True, sending=True),
        )
        session = Session(
            namespace=version.namespace,
            device=device,
            active=True,
            confirmed=False,
            identity_key=wire_bundle.identity_key,
            identity_key_curve=parsed.identity_key_curve,
            associated_data=ad,
            ephemeral_key=header.ephemeral_key,
            signed_pre_key_id=parsed.signed_pre_key_id,
            pre_key_id=parsed.pre_key_ids[pre_key],
            ratchet=ratchet_json(ratchet),
        )
        exchange = KeyExchange(
            session.pre_key_id,
            session.signed_pre_key_id,
            self._wire_identity_key[version.namespace],
            header.ephemeral_key,
            first.ciphertext,
        )
        return session, version.build_key_exchange(exchange, self.device_id)

    # --- decryption -----------------------------------------------------------------------------

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
        version = version_for(element.namespace)
        key = self._own_key(element)
        sender = DeviceRef(bare_jid(sender_bare_jid), element.sender_device_id)
        op = _Operation(self._store)
        if key.key_exchange:
            step = await self._decrypt_key_exchange(op, version, sender, key.data)
        else:
            step = await self._decrypt_message(op, version, sender, key.data)
        if element.payload is None:
            version.check_empty_key_material(step.key_material)
            plaintext = None
        else:
            plaintext = version.decrypt_payload(step.key_material, element.iv, element.payload)
        op.save_session(step.session)
        return DecryptResult(
            namespace=element.namespace,
            sender=sender,
            sender_identity_key=step.session.identity_key_curve,
            plaintext=plaintext,
            key_exchange=step.key_exchange,
            pre_key_consumed=step.pre_key_consumed,
            send_empty_message=step.answer or step.heartbeat_due,
            heartbeat_due=step.heartbeat_due,
            changes=op.changes,
        )

    def _own_key(self, element: EncryptedElement) -> KeyElement:
        for key in element.keys:
            if key.device_id == self.device_id and (
                key.bare_jid is None or bare_jid(key.bare_jid) == self._own_bare_jid
            ):
                return key
        raise NotForThisDevice(f"no key for device {self.device_id}")

    def _heartbeat_due(self, counter: int, ratchet: PackingDoubleRatchet) -> bool:
        """The peer's chain reached the heartbeat counter and we have not sent on ours since."""
        return counter >= self._settings.heartbeat_after and ratchet.sending_chain_length == 0

    async def _decrypt_message(
        self, op: _Operation, version: Version, sender: DeviceRef, data: bytes
    ) -> _Decrypted:
        session = await op.session(version.namespace, sender)
        if session is None:
            raise NoSession(f"no {version.namespace.label} session with {sender}")
        message = version.parse_message(data)
        ad = version.message_associated_data(
            session.associated_data, active=session.active, sending=False
        )
        session, key_material, heartbeat = await self._ratchet_decrypt(
            op, version, session, message, ad
        )
        if not session.confirmed:
            session = session.evolve(confirmed=True)
        return _Decrypted(session, key_material, heartbeat_due=heartbeat)

    async def _ratchet_decrypt(
        self,
        op: _Operation,
        version: Version,
        session: Session,
        message: RatchetMessage,
        ad: bytes,
    ) -> tuple[Session, bytes, bool]:
        """Decrypt one ratchet message: with a stored skipped key if there is one, else by the
        ratchet (whose newly skipped keys are then moved to their own state keys).

        Returns:
            The advanced session, the key material and whether a heartbeat is due.
        """
        header = message.header
        if session.skipped_next != session.skipped_oldest:  # else the session holds none
            key = skipped_key(
                version.namespace, session.device, header.ratchet_pub, header.sending_chain_length
            )
            stored = await op.load(key)
            if stored is not None:
                with _ratchet_errors():
                    key_material = version.aead.open(message, unb64(stored.get("message_key")), ad)
                op.changes.delete(key)
                return session, key_material, False
        view = RatchetView.of(session.ratchet)
        with _ratchet_errors():
            step = None if view is None else view.step_receiving(header, version.root_kdf.INFO)
            if step is not None:  # no message key skipped: decrypt on the stored JSON directly
                message_key, advanced, sending_chain_length = step
                key_material = version.aead.open(message, message_key, ad)
        if step is not None:
            heartbeat = (
                header.sending_chain_length >= self._settings.heartbeat_after
                and sending_chain_length == 0
            )
            return session.evolve(ratchet=advanced), key_material, heartbeat
        ratchet = restore_ratchet(version, session, self._settings.max_skipped_message_keys)
        with _ratchet_errors():
            key_material = await ratchet.decrypt_message(message.encrypted, ad)
        session = await self._keep_skipped(op, session, ratchet)
        return session, key_material, self._heartbeat_due(header.sending_chain_length, ratchet)

    async def _keep_skipped(
        self, op: _Operation, session: Session, ratchet: PackingDoubleRatchet
    ) -> Session:
        """Store the ratchet's skipped keys under their own keys, evicting the oldest beyond
        the limit, and return the session with the ratchet (without skipped keys) updated."""
        namespace, device = session.namespace, session.device
        oldest, following = session.skipped_oldest, session.skipped_next
        for ratchet_pub, index, message_key in new_skipped_keys(ratchet):
            key = skipped_key(namespace, device, ratchet_pub, index)
            op.changes.put(key, {"version": 1, "message_key": b64(message_key)})
            op.changes.put(
                skipped_order_key(namespace, device, following), {"version": 1, "key": key}
            )
            following += 1
        while following - oldest > self._settings.max_skipped_message_keys:
            order_key = skipped_order_key(namespace, device, oldest)
            entry = await op.load(order_key)
            if entry is not None and isinstance(entry.get("key"), str):
                op.changes.delete(str(entry["key"]))
            op.changes.delete(order_key)
            oldest += 1
        return session.evolve(ratchet=ratchet_json(ratchet), skipped=(oldest, following))

    async def _decrypt_key_exchange(
        self, op: _Operation, version: Version, sender: DeviceRef, data: bytes
    ) -> _Decrypted:
        exchange = version.parse_key_exchange(data)
        message = version.parse_message(exchange.message)
        identity_key_curve = version.curve_identity_key(exchange.identity_key)
        existing = await op.session(version.namespace, sender)
        if (
            existing is not None
            and not existing.active
            and existing.ephemeral_key == exchange.ephemeral_key
            and existing.identity_key_curve == identity_key_curve
        ):
            return await self._repeated_key_exchange(op, version, existing, message)
        pre_keys = await op.pre_keys(version)
        signed_pre_key = pre_keys.signed_pre_key_pub(exchange.signed_pre_key_id)
        pre_key = pre_keys.pre_key_pub(exchange.pre_key_id)
        peer_ed = version.x3dh_identity_key(exchange.identity_key)
        signed_pre_key_priv = pre_keys.signed_pre_key_priv(signed_pre_key)
        pre_key_priv = pre_keys.pre_key_priv(pre_key)
        if signed_pre_key_priv is None or pre_key_priv is None:
            raise UnknownPreKey("the key exchange uses a prekey that is not available any more")
        try:
            peer_curve = identity_key_curve
            if not is_canonical(peer_curve):  # x3dh's value: Ed25519 → Curve25519 of the key
                peer_curve = xeddsa.ed25519_pub_to_curve25519_pub(peer_ed)
            shared_secret = agree_passive(
                version.x3dh_info,
                own_identity_priv=self._identity_priv,
                signed_pre_key_priv=signed_pre_key_priv,
                pre_key_priv=pre_key_priv,
                peer_identity_curve=peer_curve,
                ephemeral_key=exchange.ephemeral_key,
            )
        except (xeddsa.XEdDSAException, ValueError) as error:
            raise MalformedMessage("unusable key in the key exchange") from error
        ad = version.x3dh_ad_key(peer_ed, peer_curve) + self._ad_identity_key[version.namespace]
        with _ratchet_errors():
            ratchet, key_material = await version.ratchet(
                self._settings.max_skipped_message_keys
            ).decrypt_initial(
                shared_secret,
                signed_pre_key_priv,
                message.encrypted,
                version.message_associated_data(ad, active=False, sending=False),
            )
        pre_keys.consume(pre_key, hide=self._catching_up, target=self._settings.pre_keys_target)
        op.save_pre_keys(version)
        await self._delete_skipped(op, existing)
        session = Session(
            namespace=version.namespace,
            device=sender,
            active=False,
            confirmed=True,
            identity_key=exchange.identity_key,
            identity_key_curve=identity_key_curve,
            associated_data=ad,
            ephemeral_key=exchange.ephemeral_key,
            signed_pre_key_id=exchange.signed_pre_key_id,
            pre_key_id=exchange.pre_key_id,
            ratchet=ratchet_json(ratchet),
        )
        session = await self._keep_skipped(op, session, ratchet)
        return _Decrypted(
            session,
            key_material,
            key_exchange=True,
            pre_key_consumed=True,
            answer=self._settings.complete_session_with_empty_message,
            heartbeat_due=self._heartbeat_due(message.header.sending_chain_length, ratchet),
        )

    async def _repeated_key_exchange(
        self,
        op: _Operation,
        version: Version,
        session: Session,
        message: RatchetMessage,
    ) -> _Decrypted:
        """The same key exchange again: decrypt with the session it built, don't rebuild.

        An empty answer is due while we have sent nothing on the session yet.
        """
        ad = version.message_associated_data(session.associated_data, active=False, sending=False)
        session, key_material, heartbeat = await self._ratchet_decrypt(
            op, version, session, message, ad
        )
        ratchet = restore_ratchet(version, session, self._settings.max_skipped_message_keys)
        unanswered = ratchet.sending_chain_length == 0
        return _Decrypted(
            session,
            key_material,
            answer=unanswered and self._settings.complete_session_with_empty_message,
            heartbeat_due=heartbeat,
        )

    # --- maintenance ----------------------------------------------------------------------------

    async def maintain(self, now: float | None = None) -> tuple[StateChanges, bool]:
        """Rotate signed prekeys that are too old and refill prekeys, for both namespaces.

        Args:
            now: the current time (seconds since the epoch), for tests.

        Returns:
            The changes and whether the bundles changed (publish them after committing).
        """
        now = time.time() if now is None else now
        op = _Operation(self._store)
        max_age = self._settings.renew_signed_prekey_after_hours * 3600
        changed = False
        for version in _VERSIONS:
            pre_keys = await op.pre_keys(version)
            modified = False
            if self._settings.renew_signed_prekey and pre_keys.signed_pre_key_age(now) >= max_age:
                pre_keys.rotate(self._settings.renew_signed_prekey_keep, self._identity.seed)
                modified = True
            modified = pre_keys.refill(self._settings.pre_keys_target) or modified
            if modified:
                op.save_pre_keys(version)
                changed = True
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
        op = _Operation(self._store)
        for version in _VERSIONS:
            if (await op.pre_keys(version)).delete_hidden():
                op.save_pre_keys(version)
        return op.changes

    # --- sessions -------------------------------------------------------------------------------

    async def session_info(self, namespace: Namespace, device: DeviceRef) -> SessionInfo | None:
        """The stored session with `device`, if any."""
        session = await _Operation(self._store).session(namespace, device)
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
        op = _Operation(self._store)
        await self._delete_skipped(op, await op.session(namespace, device))
        op.changes.delete(session_key(namespace, device))
        return op.changes

    async def rebuild_session(self, namespace: Namespace, device: DeviceRef) -> EncryptResult:
        """Manual "reset session": forget the session, build a new one from the device's current
        bundle and put an empty message (a key exchange) on it, as one unit of work.

        The device is reported in `EncryptResult.skipped` (e.g. NO_BUNDLE) when no new session
        could be built; the old one is then still deleted by the changes.
        """
        deletion = await self.delete_session(namespace, device)
        return await self._encrypt(namespace, [device], None, _no_trust_needed, deletion)

    @staticmethod
    async def _delete_skipped(op: _Operation, session: Session | None) -> None:
        """Record the deletion of every skipped key a (replaced) session holds."""
        if session is None:
            return
        for sequence in range(session.skipped_oldest, session.skipped_next):
            order_key = skipped_order_key(session.namespace, session.device, sequence)
            entry = await op.load(order_key)
            if entry is not None and isinstance(entry.get("key"), str):
                op.changes.delete(str(entry["key"]))
            op.changes.delete(order_key)

    async def commit(self, changes: StateChanges) -> None:
        """Apply `changes` through the `StateStore` port, in order (hosts without transactions)."""
        await apply_changes(self._store, changes)
