"""What the engine returns: encrypt/decrypt results and why a device was skipped."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from tui_omemo.model import DeviceRef, Namespace
from tui_omemo.protocol.elements import EncryptedElement
from tui_omemo.protocol.ports import StateChanges


class SkipReason(enum.StrEnum):
    """Why a device got no `<key>` in an outgoing message (Smack's "skipped devices" map)."""

    UNTRUSTED = "untrusted"  # the trust decision says distrusted
    DISTRUSTED = "untrusted"  # alias of UNTRUSTED
    UNDECIDED = "undecided"  # no trust decision yet and blind trust does not apply
    NO_BUNDLE = "no_bundle"  # no bundle published or the fetch failed
    INVALID_BUNDLE = "invalid_bundle"  # bad signature, lengths or too few prekeys
    NO_DEVICES = "no_devices"  # the JID publishes no device for this namespace
    INACTIVE = "inactive"  # asked for explicitly, but not on the JID's current device list
    OWN_DEVICE = "own_device"  # this very device (never encrypted for)
    # decided by the host, never returned by the engine:
    STALE = "stale"  # an own device silent for longer than the stale limit (DESIGN.md §4)
    OTHER_VERSION = "other_version"  # publishes only the version this chat is not forced to


@dataclass(frozen=True, slots=True)
class EncryptResult:
    """The outcome of `Engine.encrypt`.

    Attributes:
        element: the `<encrypted>` element to send (no keys when every device was skipped).
        skipped: devices that got no key, with the reason; a JID without devices appears as
            `DeviceRef(jid, 0)` with `SkipReason.NO_DEVICES`.
        recipients: the devices that got a key.
        new_sessions: devices for which a session was built from their bundle by this call.
        changes: the state to commit in the same unit of work as sending/archiving.
    """

    element: EncryptedElement
    skipped: Mapping[DeviceRef, SkipReason]
    recipients: tuple[DeviceRef, ...]
    new_sessions: tuple[DeviceRef, ...]
    changes: StateChanges = field(repr=False)


@dataclass(frozen=True, slots=True)
class DecryptResult:
    """The outcome of `Engine.decrypt`.

    Attributes:
        namespace: the element's namespace.
        sender: the sending device.
        sender_identity_key: its identity key in Curve25519 form (32 B) for both versions: what
            trust and fingerprints key on.
        plaintext: 0.3: the body bytes; 2: the SCE envelope bytes; None for an empty message.
        key_exchange: the key was a key exchange that built a new session.
        pre_key_consumed: one of our prekeys was used (deleted now, or hidden during catch-up);
            the bundle changed and should be republished.
        send_empty_message: the host should send an empty message to the sender (after a new key
            exchange, per `complete_session_with_empty_message`, or when a heartbeat is due).
        heartbeat_due: the sender's chain reached the heartbeat counter with no answer from us.
        changes: the state to commit together with the plaintext.
    """

    namespace: Namespace
    sender: DeviceRef
    sender_identity_key: bytes
    plaintext: bytes | None
    key_exchange: bool
    pre_key_consumed: bool
    send_empty_message: bool
    heartbeat_due: bool
    changes: StateChanges = field(repr=False)

    @property
    def bundle_changed(self) -> bool:
        """Our bundle must be republished (a prekey was used and replaced)."""
        return self.pre_key_consumed


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """Public facts about one stored session (for the trust screen and tests)."""

    namespace: Namespace
    device: DeviceRef
    identity_key: bytes  # Curve25519 form, 32 B
    active: bool  # we built it from the peer's bundle
    confirmed: bool  # the peer has answered on it
    sending_chain_length: int
    receiving_chain_length: int | None
