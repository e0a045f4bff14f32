"""BTBV and manual trust rules (OMEMO-WIRE.md §7.3), table-driven plus properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui_omemo.model import TrustLevel
from tui_omemo.protocol.trust import (
    TrustDecision,
    TrustDisplay,
    TrustMode,
    decide_devices,
    effective_decision,
    effective_level,
    is_manually_decided,
    levels_for_new_devices,
    new_device_level,
    trusted_device_ids,
)

B, M = TrustMode.BTBV, TrustMode.MANUAL
U, BT, V, D = (
    TrustLevel.UNDECIDED,
    TrustLevel.BLINDLY_TRUSTED,
    TrustLevel.VERIFIED,
    TrustLevel.DISTRUSTED,
)

EFFECTIVE = [
    (V, B, True, TrustDisplay.VERIFIED),
    (V, M, True, TrustDisplay.VERIFIED),
    (BT, B, True, TrustDisplay.BLIND),
    (BT, M, False, TrustDisplay.UNDECIDED),
    (U, B, False, TrustDisplay.UNDECIDED),
    (U, M, False, TrustDisplay.UNDECIDED),
    (D, B, False, TrustDisplay.DISTRUSTED),
    (D, M, False, TrustDisplay.DISTRUSTED),
]


@pytest.mark.parametrize(("stored", "mode", "receives", "display"), EFFECTIVE)
def test_effective_decision_table(
    stored: TrustLevel, mode: TrustMode, receives: bool, display: TrustDisplay
) -> None:
    """Each stored level reads as the table of §7.3 says, in both modes."""
    assert effective_decision(stored, mode) == TrustDecision(receives, display)


def test_table_covers_every_level_and_mode() -> None:
    """The table above is exhaustive, so a new TrustLevel would fail here first."""
    assert {(s, m) for s, m, _, _ in EFFECTIVE} == {(s, m) for s in TrustLevel for m in TrustMode}


@pytest.mark.parametrize(
    ("stored", "mode", "expected"),
    [(BT, M, U), (BT, B, BT), (V, M, V), (D, B, D), (U, B, U)],
)
def test_effective_level_maps_blind_to_undecided_only_in_manual_mode(
    stored: TrustLevel, mode: TrustMode, expected: TrustLevel
) -> None:
    assert effective_level(stored, mode) is expected


NEW_DEVICE = [
    ((), B, BT),  # first contact: blind
    ((BT,), B, BT),
    ((BT, U), B, BT),  # an undecided key is no manual decision
    ((BT, V), B, U),  # a verification ends blind trust for new keys
    ((D,), B, U),  # so does a distrust (slixmpp-omemo's stricter rule)
    ((U, D, BT), B, U),
    ((), M, U),
    ((BT,), M, U),
    ((V,), M, U),
]


@pytest.mark.parametrize(("known", "mode", "expected"), NEW_DEVICE)
def test_new_device_level(
    known: tuple[TrustLevel, ...], mode: TrustMode, expected: TrustLevel
) -> None:
    assert new_device_level(known, mode) is expected


def test_decide_devices_keeps_blind_devices_trusted_after_a_verification() -> None:
    """Verifying one key does not take trust away from keys already blindly trusted."""
    devices = {1: BT, 2: V, 3: U, 4: D}
    decisions = decide_devices(devices, B)
    assert decisions[1] == TrustDecision(True, TrustDisplay.BLIND)
    assert decisions[2] == TrustDecision(True, TrustDisplay.VERIFIED)
    assert trusted_device_ids(devices, B) == {1, 2}
    assert trusted_device_ids(devices, M) == {2}


def test_first_contact_device_list_is_blind_as_a_whole() -> None:
    """Several devices of a new contact are judged together, not one after another."""
    assert levels_for_new_devices({}, [7, 8, 9], B) == {7: BT, 8: BT, 9: BT}
    assert levels_for_new_devices({7: V}, [7, 8], B) == {8: U}
    assert levels_for_new_devices({}, [7], M) == {7: U}


def test_manual_decisions_are_verified_and_distrusted_only() -> None:
    assert {level for level in TrustLevel if is_manually_decided(level)} == {V, D}


levels = st.sampled_from(list(TrustLevel))
modes = st.sampled_from(list(TrustMode))
device_maps = st.dictionaries(st.integers(1, 2**31 - 1), levels, max_size=8)


@given(device_maps, modes)
def test_manual_mode_trusts_exactly_the_verified(
    devices: dict[int, TrustLevel], mode: TrustMode
) -> None:
    """Whatever the mode, verified devices receive keys and distrusted/undecided never do; in
    manual mode the trusted set is exactly the verified set."""
    trusted = trusted_device_ids(devices, mode)
    verified = {d for d, level in devices.items() if level is V}
    assert verified <= trusted
    assert not trusted & {d for d, level in devices.items() if level in (U, D)}
    if mode is M:
        assert trusted == verified


@given(device_maps, st.integers(1, 2**31 - 1))
def test_new_device_is_trusted_iff_no_manual_decision(
    devices: dict[int, TrustLevel], new_id: int
) -> None:
    """Under BTBV a new device gets keys exactly when no known device was decided by hand; under
    manual mode it never does."""
    devices.pop(new_id, None)
    level = new_device_level(devices.values(), B)
    blind_allowed = not any(is_manually_decided(x) for x in devices.values())
    assert effective_decision(level, B).may_receive_keys is blind_allowed
    assert not effective_decision(new_device_level(devices.values(), M), M).may_receive_keys
