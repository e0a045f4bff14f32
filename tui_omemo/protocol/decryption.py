"""Decryption: the `<key>` addressed to our device, the ratchet step, then the payload.

`Decryptor.decrypt` finds our key in the element, then either advances the stored session with
the sender's device (a skipped message key if one is stored for the message, else the ratchet)
or, for a key exchange, builds a passive session (X3DH from our prekeys, consuming the prekey)
or reuses the one a repeated key exchange already built. Everything it changes goes into the
`Operation`; a failure raises a `ProtocolError` and leaves nothing worth committing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

import doubleratchet
import xeddsa

from tui_omemo.model import DeviceRef, bare_jid
from tui_omemo.protocol.agreement import agree_passive
from tui_omemo.protocol.codec import unb64
from tui_omemo.protocol.elements import EncryptedElement, KeyElement
from tui_omemo.protocol.errors import (
    AuthenticationFailed,
    Duplicate,
    MalformedMessage,
    NoSession,
    NotForThisDevice,
    TooManySkipped,
    UnknownPreKey,
)
from tui_omemo.protocol.identity import PreKeys
from tui_omemo.protocol.keys import is_canonical
from tui_omemo.protocol.operation import Operation
from tui_omemo.protocol.own_device import OwnDevice
from tui_omemo.protocol.ratchet import PackingDoubleRatchet, RatchetMessage
from tui_omemo.protocol.results import DecryptResult
from tui_omemo.protocol.session import (
    RatchetView,
    Session,
    ratchet_json,
    restore_ratchet,
    skipped_key,
)
from tui_omemo.protocol.settings import CoreSettings
from tui_omemo.protocol.version import KeyExchange, Version
from tui_omemo.protocol.versions import version_for


@contextmanager
def ratchet_errors() -> Iterator[None]:
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


@dataclass(frozen=True, slots=True)
class _Decrypted:
    """The ratchet step of a decryption, before the payload."""

    session: Session
    key_material: bytes
    key_exchange: bool = False
    pre_key_consumed: bool = False
    answer: bool = False
    heartbeat_due: bool = False


class _PassiveAgreement(NamedTuple):
    """The outcome of passive X3DH with a key exchange."""

    shared_secret: bytes
    associated_data: bytes
    signed_pre_key_priv: bytes
    pre_key: bytes


class Decryptor:
    """Decrypts what is addressed to our device."""

    def __init__(self, own: OwnDevice, settings: CoreSettings) -> None:
        """Decrypt as `own`."""
        self._own = own
        self._settings = settings

    async def decrypt(
        self, op: Operation, element: EncryptedElement, sender_bare_jid: str, *, hide: bool
    ) -> DecryptResult:
        """`Engine.decrypt` within `op`; a prekey a key exchange used is hidden (catch-up)
        instead of deleted when `hide`."""
        version = version_for(element.namespace)
        key = self._own_key(element)
        sender = DeviceRef(bare_jid(sender_bare_jid), element.sender_device_id)
        if key.key_exchange:
            step = await self._decrypt_key_exchange(op, version, sender, key.data, hide=hide)
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
        """The `<key>` for this device, or NotForThisDevice."""
        for key in element.keys:
            if key.device_id == self._own.device_id and (
                key.bare_jid is None or bare_jid(key.bare_jid) == self._own.bare_jid
            ):
                return key
        raise NotForThisDevice(f"no key for device {self._own.device_id}")

    def _heartbeat_due(self, counter: int, ratchet: PackingDoubleRatchet) -> bool:
        """The peer's chain reached the heartbeat counter and we have not sent on ours since."""
        return counter >= self._settings.heartbeat_after and ratchet.sending_chain_length == 0

    async def _decrypt_message(
        self, op: Operation, version: Version, sender: DeviceRef, data: bytes
    ) -> _Decrypted:
        """A plain ratchet message on the stored session (which it confirms)."""
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
        op: Operation,
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
        opened = await self._open_with_skipped_key(op, version, session, message, ad)
        if opened is not None:
            return session, opened, False
        header = message.header
        view = RatchetView.of(session.ratchet)
        with ratchet_errors():
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
        limit = self._settings.max_skipped_message_keys
        ratchet = restore_ratchet(version, session, limit)
        with ratchet_errors():
            key_material = await ratchet.decrypt_message(message.encrypted, ad)
        session = await op.keep_skipped(session, ratchet, limit)
        return session, key_material, self._heartbeat_due(header.sending_chain_length, ratchet)

    @staticmethod
    async def _open_with_skipped_key(
        op: Operation, version: Version, session: Session, message: RatchetMessage, ad: bytes
    ) -> bytes | None:
        """The key material, if a skipped message key is stored for `message` (then used up)."""
        if session.skipped_next == session.skipped_oldest:  # the session holds none
            return None
        header = message.header
        key = skipped_key(
            version.namespace, session.device, header.ratchet_pub, header.sending_chain_length
        )
        stored = await op.load(key)
        if stored is None:
            return None
        with ratchet_errors():
            key_material = version.aead.open(message, unb64(stored.get("message_key")), ad)
        op.changes.delete(key)
        return key_material

    async def _decrypt_key_exchange(
        self, op: Operation, version: Version, sender: DeviceRef, data: bytes, *, hide: bool
    ) -> _Decrypted:
        """A key exchange: a new passive session from our prekeys, or the one it built before."""
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
        agreement = self._agree(version, exchange, identity_key_curve, pre_keys)
        limit = self._settings.max_skipped_message_keys
        with ratchet_errors():
            ratchet, key_material = await version.ratchet(limit).decrypt_initial(
                agreement.shared_secret,
                agreement.signed_pre_key_priv,
                message.encrypted,
                version.message_associated_data(
                    agreement.associated_data, active=False, sending=False
                ),
            )
        pre_keys.consume(agreement.pre_key, hide=hide, target=self._settings.pre_keys_target)
        op.save_pre_keys(version)
        await op.delete_skipped(existing)
        session = Session(
            namespace=version.namespace,
            device=sender,
            active=False,
            confirmed=True,
            identity_key=exchange.identity_key,
            identity_key_curve=identity_key_curve,
            associated_data=agreement.associated_data,
            ephemeral_key=exchange.ephemeral_key,
            signed_pre_key_id=exchange.signed_pre_key_id,
            pre_key_id=exchange.pre_key_id,
            ratchet=ratchet_json(ratchet),
        )
        session = await op.keep_skipped(session, ratchet, limit)
        return _Decrypted(
            session,
            key_material,
            key_exchange=True,
            pre_key_consumed=True,
            answer=self._settings.complete_session_with_empty_message,
            heartbeat_due=self._heartbeat_due(message.header.sending_chain_length, ratchet),
        )

    def _agree(
        self,
        version: Version,
        exchange: KeyExchange,
        identity_key_curve: bytes,
        pre_keys: PreKeys,
    ) -> _PassiveAgreement:
        """Passive X3DH with the prekeys the key exchange names.

        Raises:
            UnknownPreKey: a prekey that is not available any more.
            MalformedMessage: keys X3DH cannot use.
        """
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
                own_identity_priv=self._own.identity_priv,
                signed_pre_key_priv=signed_pre_key_priv,
                pre_key_priv=pre_key_priv,
                peer_identity_curve=peer_curve,
                ephemeral_key=exchange.ephemeral_key,
            )
        except (xeddsa.XEdDSAException, ValueError) as error:
            raise MalformedMessage("unusable key in the key exchange") from error
        ad = version.x3dh_ad_key(peer_ed, peer_curve) + self._own.ad_identity_key[version.namespace]
        return _PassiveAgreement(shared_secret, ad, signed_pre_key_priv, pre_key)

    async def _repeated_key_exchange(
        self,
        op: Operation,
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
