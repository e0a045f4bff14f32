"""Trust rules: Blind Trust Before Verification (BTBV) and manual mode, as pure functions.

Nothing here does I/O or remembers anything. The service feeds in what the store knows about
one bare JID (device id → stored `TrustLevel`) and the user's `TrustMode`, and gets back, per
device, whether it may receive message keys and how the UI should show it. See OMEMO-WIRE.md
§7.3.

Two decisions shape this module:

* A stored `BLINDLY_TRUSTED` level is kept as its own value (as slixmpp-omemo does), so that
  switching BTBV off turns those devices into "undecided" without forgetting that they were blind,
  and switching it back on restores them.
* A new device is blindly trusted only while *no* device of that JID was decided by hand, neither
  verified nor distrusted (slixmpp-omemo's stricter rule; Conversations looks at verified keys
  only). In manual mode a new device is stored as undecided, so turning BTBV on later never
  trusts a device retroactively.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import assert_never

from tui_omemo.model import TrustLevel


class TrustMode(enum.StrEnum):
    """How keys of devices nobody has decided on yet are treated."""

    BTBV = "btbv"  # new devices are trusted blindly until the user decides on any device of the JID
    MANUAL = "manual"  # only devices the user verified receive keys


class TrustDisplay(enum.StrEnum):
    """How a device is shown to the user: never show a blind key like a verified one."""

    BLIND = "blind"
    VERIFIED = "verified"
    UNDECIDED = "undecided"
    DISTRUSTED = "distrusted"


@dataclass(frozen=True, slots=True)
class TrustDecision:
    """The effective trust of one device under the current mode.

    Attributes:
        may_receive_keys: whether message keys (content) may be encrypted for this device.
            Empty / key-transport messages need no trust and ignore this.
        display: how the UI shows the device.
    """

    may_receive_keys: bool
    display: TrustDisplay


def effective_decision(stored: TrustLevel, mode: TrustMode) -> TrustDecision:
    """The effective trust of one device from its stored level and the mode.

    Args:
        stored: the level kept in the store for this device's identity key.
        mode: the user's trust mode.

    Returns:
        Whether the device may receive keys and how to display it.
    """
    match stored:
        case TrustLevel.VERIFIED:
            return TrustDecision(may_receive_keys=True, display=TrustDisplay.VERIFIED)
        case TrustLevel.DISTRUSTED:
            return TrustDecision(may_receive_keys=False, display=TrustDisplay.DISTRUSTED)
        case TrustLevel.UNDECIDED:
            return TrustDecision(may_receive_keys=False, display=TrustDisplay.UNDECIDED)
        case TrustLevel.BLINDLY_TRUSTED:
            return _blind_decision(mode)
        case _:
            assert_never(stored)


def _blind_decision(mode: TrustMode) -> TrustDecision:
    """A stored blind trust counts only while BTBV is on; in manual mode it is undecided."""
    match mode:
        case TrustMode.BTBV:
            return TrustDecision(may_receive_keys=True, display=TrustDisplay.BLIND)
        case TrustMode.MANUAL:
            return TrustDecision(may_receive_keys=False, display=TrustDisplay.UNDECIDED)
        case _:
            assert_never(mode)


def effective_level(stored: TrustLevel, mode: TrustMode) -> TrustLevel:
    """The stored level as the mode reads it (BLINDLY_TRUSTED → UNDECIDED in manual mode).

    This is the answer `Engine.encrypt`'s `TrustDecider` expects: the engine gives keys to
    VERIFIED and BLINDLY_TRUSTED and skips the rest.
    """
    match stored:
        case TrustLevel.VERIFIED | TrustLevel.DISTRUSTED | TrustLevel.UNDECIDED:
            return stored
        case TrustLevel.BLINDLY_TRUSTED:
            return stored if mode is TrustMode.BTBV else TrustLevel.UNDECIDED
        case _:
            assert_never(stored)


def decide_devices(devices: Mapping[int, TrustLevel], mode: TrustMode) -> dict[int, TrustDecision]:
    """The effective decision for every known device of one bare JID.

    Args:
        devices: device id → stored trust level, for the devices of one bare JID.
        mode: the user's trust mode.

    Returns:
        device id → decision, with the same keys as `devices`.
    """
    return {device_id: effective_decision(level, mode) for device_id, level in devices.items()}


def trusted_device_ids(devices: Mapping[int, TrustLevel], mode: TrustMode) -> frozenset[int]:
    """The devices of one bare JID that may receive message keys."""
    return frozenset(
        device_id
        for device_id, level in devices.items()
        if effective_decision(level, mode).may_receive_keys
    )


def is_manually_decided(level: TrustLevel) -> bool:
    """Whether the user decided on this device by hand (verified or distrusted)."""
    match level:
        case TrustLevel.VERIFIED | TrustLevel.DISTRUSTED:
            return True
        case TrustLevel.UNDECIDED | TrustLevel.BLINDLY_TRUSTED:
            return False
        case _:
            assert_never(level)


def new_device_level(known: Iterable[TrustLevel], mode: TrustMode) -> TrustLevel:
    """The level to store for a device of a bare JID seen for the first time.

    Args:
        known: the stored levels of the JID's devices already known (the new one not included).
        mode: the user's trust mode.

    Returns:
        BLINDLY_TRUSTED under BTBV while no known device of the JID was verified or distrusted by
        hand; UNDECIDED otherwise and always in manual mode.
    """
    match mode:
        case TrustMode.BTBV:
            if any(is_manually_decided(level) for level in known):
                return TrustLevel.UNDECIDED
            return TrustLevel.BLINDLY_TRUSTED
        case TrustMode.MANUAL:
            return TrustLevel.UNDECIDED
        case _:
            assert_never(mode)


def levels_for_new_devices(
    known: Mapping[int, TrustLevel], new_device_ids: Iterable[int], mode: TrustMode
) -> dict[int, TrustLevel]:
    """The levels to store for several devices of one bare JID that appear at once.

    They are judged together against the devices known before, so a first contact's whole device
    list is trusted blindly under BTBV. Ids already in `known` are left out of the result.

    Args:
        known: device id → stored level of the devices already known.
        new_device_ids: ids seen on a device list or in a message.
        mode: the user's trust mode.

    Returns:
        new device id → level to store.
    """
    level = new_device_level(known.values(), mode)
    return {device_id: level for device_id in new_device_ids if device_id not in known}
