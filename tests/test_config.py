"""Settings: DESIGN.md §4 defaults, JSON round trip, validation and `settings KEY VALUE`."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui_omemo.config import SETTINGS_HELP, TRUST_MODES, Settings
from tui_omemo.protocol.trust import TrustMode


def test_defaults_are_those_of_design_section_4() -> None:
    assert Settings().to_json() == {
        "version": 1,
        "ignore_stale_devices": True,
        "stale_after_hours": 168,
        "delete_stale_devices": False,
        "delete_stale_after_hours": 720,
        "renew_signed_prekey": True,
        "renew_signed_prekey_after_hours": 168,
        "signed_prekey_keep": 3,
        "add_body_hint": True,
        "repair_broken_sessions": False,
        "complete_session_with_empty_message": True,
        "auto_download_files": False,
        "auto_download_max_mib": 10,
        "trust_mode": "btbv",
        "show": "online",
        "status_message": "",
        "notify_message_text": False,
        "chat_states": True,
        "send_displayed_markers": True,  # issue 17: on by default
    }
    assert TrustMode(Settings().trust_mode) is TrustMode.BTBV


def test_trust_mode_names_are_those_of_the_protocol_enum() -> None:
    """config keeps the names as text (the UI imports config, not the protocol layer)."""
    assert set(TRUST_MODES) == {mode.value for mode in TrustMode}


def test_every_option_has_a_one_line_explanation() -> None:
    names = [spec.name for spec in dataclasses.fields(Settings)]
    assert list(SETTINGS_HELP) == names
    for text in SETTINGS_HELP.values():
        assert text
        assert "\n" not in text
        assert len(text) < 100


def test_json_round_trip_through_text() -> None:
    settings = Settings(trust_mode="manual", signed_prekey_keep=5, add_body_hint=False)
    assert Settings.from_json(json.loads(json.dumps(settings.to_json()))) == settings


def test_missing_options_take_their_default() -> None:
    assert Settings.from_json({}) == Settings()
    assert Settings.from_json({"trust_mode": "manual"}) == Settings(trust_mode="manual")


@pytest.mark.parametrize(
    ("values", "why"),
    [
        ({"colour": "red"}, "unknown setting 'colour'"),
        ({"version": 2}, "version"),
        ({"add_body_hint": "yes"}, "true or false"),
        ({"add_body_hint": 1}, "true or false"),
        ({"stale_after_hours": True}, "whole number"),
        ({"stale_after_hours": 1.5}, "whole number"),
        ({"stale_after_hours": "24"}, "whole number"),
        ({"stale_after_hours": 0}, "at least 1"),
        ({"signed_prekey_keep": -3}, "at least 1"),
        ({"trust_mode": "tofu"}, "btbv, manual"),
        ({"trust_mode": 1}, "string"),
    ],
)
def test_from_json_rejects(values: dict[str, Any], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        Settings.from_json(values)


def test_constructor_validates_too() -> None:
    with pytest.raises(ValueError, match="whole number"):
        Settings(stale_after_hours="24")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="btbv or manual"):
        Settings(trust_mode="tofu")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        ("add_body_hint", "off", False),
        ("add_body_hint", "No", False),
        ("repair_broken_sessions", "TRUE", True),
        ("repair_broken_sessions", "1", True),
        ("stale_after_hours", " 48 ", 48),
        ("trust_mode", "Manual", "manual"),
    ],
)
def test_with_value_parses_text(key: str, text: str, expected: object) -> None:
    changed = Settings().with_value(key, text)
    assert getattr(changed, key) == expected
    assert dataclasses.replace(changed, **{key: getattr(Settings(), key)}) == Settings()


@pytest.mark.parametrize(
    ("key", "text", "why"),
    [
        ("nope", "1", "unknown setting 'nope'"),
        ("add_body_hint", "maybe", "true or false"),
        ("stale_after_hours", "1e3", "whole number"),
        ("stale_after_hours", "0", "at least 1"),
        ("trust_mode", "tofu", "btbv, manual"),
    ],
)
def test_with_value_rejects(key: str, text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        Settings().with_value(key, text)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "ignore_stale_devices": st.booleans(),
            "stale_after_hours": st.integers(1, 10**6),
            "signed_prekey_keep": st.integers(1, 50),
            "trust_mode": st.sampled_from(["btbv", "manual"]),
        },
    )
)
def test_from_json_to_json_is_stable(values: dict[str, Any]) -> None:
    settings = Settings.from_json(values)
    assert Settings.from_json(settings.to_json()) == settings
    assert {k: settings.to_json()[k] for k in values} == values
