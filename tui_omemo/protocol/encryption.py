"""Encryption: which devices a message goes to, and one `<key>` for each trusted one.

`Encryptor.encrypt` encrypts the payload once, resolves the recipients to devices through the
`Directory` (a bare JID: every device on its current list; a single device: skipped as INACTIVE
when unlisted), asks the `TrustDecider` about each device's identity key, and per device either
advances the stored session or builds one from the device's bundle (active X3DH and the first
ratchet message, wrapped in a key exchange). Everything it changes goes into the `Operation`.
"""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import NamedTuple, TypeAlias, assert_never

import x3dh
import xeddsa

from tui_omemo.model import DeviceRef, Namespace, TrustLevel, bare_jid
from tui_omemo.protocol.agreement import agree_active
from tui_omemo.protocol.elements import DeviceList, EncryptedElement, KeyElement, WireBundle
from tui_omemo.protocol.errors import BundleUnavailable, InvalidBundle
from tui_omemo.protocol.keys import is_canonical, new_key_pair
from tui_omemo.protocol.operation import Operation
from tui_omemo.protocol.own_device import OwnDevice
from tui_omemo.protocol.ports import Directory
from tui_omemo.protocol.results import EncryptResult, SkipReason
from tui_omemo.protocol.session import Session, encrypt_key_material, ratchet_json
from tui_omemo.protocol.settings import CoreSettings
from tui_omemo.protocol.version import KeyExchange, ParsedBundle, Version
from tui_omemo.protocol.versions import version_for

TrustDecider: TypeAlias = Callable[[DeviceRef, bytes], "TrustLevel | Awaitable[TrustLevel]"]
"""Decides whether a device may receive keys: (device, Curve25519 identity key) → effective level.

VERIFIED and BLINDLY_TRUSTED get keys, UNDECIDED and DISTRUSTED are skipped. May be sync or async.
"""

Recipient: TypeAlias = str | DeviceRef
"""A bare JID (all devices on its current list) or one device (skipped as INACTIVE if unlisted)."""

_Bundle: TypeAlias = tuple[WireBundle, ParsedBundle]
"""A device's bundle as fetched, and validated."""


async def decide_trust(decider: TrustDecider, device: DeviceRef, identity_key: bytes) -> TrustLevel:
    """Call a sync or async `TrustDecider`."""
    decision = decider(device, identity_key)
    if isinstance(decision, TrustLevel):  # the common sync answer, before the ABC check
        return decision
    if inspect.isawaitable(decision):
        return await decision
    return decision


def no_trust_needed(device: DeviceRef, identity_key: bytes) -> TrustLevel:
    """Empty messages are never asked about trust; this decider is never called."""
    raise AssertionError("empty messages need no trust decision")


def skip_reason(level: TrustLevel) -> SkipReason | None:
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


class _Agreement(NamedTuple):
    """The outcome of active X3DH with a bundle."""

    shared_secret: bytes
    associated_data: bytes
    header: x3dh.Header
    pre_key: bytes


class Encryptor:
    """Encrypts for our device: recipients to devices, trust, sessions, one key per device."""

    def __init__(self, own: OwnDevice, directory: Directory, settings: CoreSettings) -> None:
        """Encrypt as `own`, with bundles and device lists from `directory`."""
        self._own = own
        self._directory = directory
        self._settings = settings

    async def encrypt(
        self,
        op: Operation,
        namespace: Namespace,
        recipients: Iterable[Recipient],
        plaintext: bytes | None,
        trust: TrustDecider,
        *,
        own_devices: bool = True,
    ) -> EncryptResult:
        """`Engine.encrypt` within `op` (whose changes the result carries)."""
        version = version_for(namespace)
        targets, skipped = await self._resolve(
            namespace, recipients, own=own_devices and plaintext is not None
        )
        if plaintext is None:
            key_material, iv, payload = version.empty_key_material(), version.empty_iv(), None
        else:
            key_material, iv, encrypted = version.encrypt_payload(plaintext)
            payload = encrypted
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
        element = EncryptedElement(namespace, self._own.device_id, tuple(keys), iv, payload)
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

        own_jid = self._own.bare_jid
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
            if not ids and jid != own_jid:
                skipped[DeviceRef(jid, 0)] = SkipReason.NO_DEVICES
            targets.update((DeviceRef(jid, device_id), None) for device_id in sorted(ids))
        if own:
            own_ids = await ids_of(own_jid)
            targets.update((DeviceRef(own_jid, i), None) for i in sorted(own_ids))
        targets.pop(self._own.ref, None)
        return list(targets), skipped

    async def _encrypt_for(
        self,
        op: Operation,
        version: Version,
        device: DeviceRef,
        key_material: bytes,
        trust: TrustDecider | None,
    ) -> tuple[KeyElement, bool] | SkipReason:
        """The `<key>` for one device (and whether a session was built), or why it is skipped."""
        session = await op.session(version.namespace, device)
        bundle: _Bundle | None = None
        if session is None:
            fetched = await self._fetch_bundle(version, device)
            if isinstance(fetched, SkipReason):
                return fetched
            bundle = fetched
            identity_key = bundle[1].identity_key_curve
        else:
            identity_key = session.identity_key_curve
        if trust is not None:
            reason = skip_reason(await decide_trust(trust, device, identity_key))
            if reason is not None:
                return reason
        if bundle is not None:
            try:
                session, data = await self._build_active(version, device, bundle, key_material)
            except InvalidBundle:
                return SkipReason.INVALID_BUNDLE
            op.save_session(session)
            return KeyElement(device.bare_jid, device.device_id, data, True), True
        assert session is not None
        session, data, exchange = await encrypt_key_material(
            version,
            session,
            key_material,
            own_wire_identity_key=self._own.wire_identity_key(version.namespace),
            own_device_id=self._own.device_id,
            max_skipped=self._settings.max_skipped_message_keys,
        )
        op.save_session(session)
        return KeyElement(device.bare_jid, device.device_id, data, exchange), False

    async def _fetch_bundle(self, version: Version, device: DeviceRef) -> _Bundle | SkipReason:
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
        self, version: Version, device: DeviceRef, bundle: _Bundle, key_material: bytes
    ) -> tuple[Session, bytes]:
        """X3DH with the peer's bundle and the first ratchet message, wrapped in a key exchange."""
        wire_bundle, parsed = bundle
        agreement = self._agree(version, parsed)
        ratchet, first = await version.ratchet(
            self._settings.max_skipped_message_keys
        ).encrypt_initial(
            agreement.shared_secret,
            parsed.bundle.signed_pre_key,
            key_material,
            version.message_associated_data(agreement.associated_data, active=True, sending=True),
        )
        session = Session(
            namespace=version.namespace,
            device=device,
            active=True,
            confirmed=False,
            identity_key=wire_bundle.identity_key,
            identity_key_curve=parsed.identity_key_curve,
            associated_data=agreement.associated_data,
            ephemeral_key=agreement.header.ephemeral_key,
            signed_pre_key_id=parsed.signed_pre_key_id,
            pre_key_id=parsed.pre_key_ids[agreement.pre_key],
            ratchet=ratchet_json(ratchet),
        )
        exchange = KeyExchange(
            session.pre_key_id,
            session.signed_pre_key_id,
            self._own.wire_identity_key(version.namespace),
            agreement.header.ephemeral_key,
            first.ciphertext,
        )
        return session, version.build_key_exchange(exchange, self._own.device_id)

    def _agree(self, version: Version, parsed: ParsedBundle) -> _Agreement:
        """Active X3DH with a random prekey of the bundle (whose signature was checked by
        `Version.parse_bundle`).

        Raises:
            InvalidBundle: no prekeys, or keys X3DH cannot use.
        """
        peer = parsed.bundle
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
                own_identity_priv=self._own.identity_priv,
                ephemeral_priv=ephemeral_priv,
                peer_identity_curve=peer_curve,
                signed_pre_key=peer.signed_pre_key,
                pre_key=pre_key,
            )
        except (xeddsa.XEdDSAException, ValueError) as error:
            raise InvalidBundle(str(error)) from error
        ad = self._own.ad_identity_key[version.namespace] + version.x3dh_ad_key(
            peer.identity_key, peer_curve
        )
        header = x3dh.Header(self._own.identity_key_ed, ephemeral_pub, peer.signed_pre_key, pre_key)
        return _Agreement(shared_secret, ad, header, pre_key)
