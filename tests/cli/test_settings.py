"""`tui-omemo settings`: list, show and change the OMEMO options offline, in the profile."""

from __future__ import annotations

from tests.cli.conftest import Cli


def test_settings_lists_every_option_with_its_explanation(cli: Cli) -> None:
    assert cli("account", "add", "alice@localhost", "--password-stdin", stdin="pw\n").code == 0
    result = cli("settings")
    assert result.code == 0
    lines = dict(line.split(" = ", 1) for line in result.out.splitlines())
    assert lines["trust_mode"].startswith("btbv  # ")
    assert lines["add_body_hint"].startswith("on  # ")
    assert "repair_broken_sessions" in lines


def test_settings_change_is_kept_in_the_profile(cli: Cli) -> None:
    assert cli("account", "add", "alice@localhost", "--password-stdin", stdin="pw\n").code == 0
    changed = cli("settings", "trust_mode", "manual")
    assert (changed.code, changed.out) == (0, "trust_mode = manual\n")
    assert cli("settings", "trust_mode").out == "trust_mode = manual\n"
    assert cli("settings", "stale_after_hours", "48").out == "stale_after_hours = 48\n"
    assert cli("settings", "add_body_hint", "off").out == "add_body_hint = off\n"
    assert cli("settings", "trust_mode").out == "trust_mode = manual\n"


def test_settings_bad_key_or_value_is_a_usage_error_and_changes_nothing(cli: Cli) -> None:
    assert cli("account", "add", "alice@localhost", "--password-stdin", stdin="pw\n").code == 0
    for args in (("nope", "1"), ("nope",), ("stale_after_hours", "0"), ("trust_mode", "tofu?")):
        result = cli("settings", *args)
        assert result.code == 2, args
        assert len(result.err.splitlines()) == 1
    assert cli("settings", "stale_after_hours").out == "stale_after_hours = 168\n"
