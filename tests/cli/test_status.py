"""`tui-omemo status` alone (issue 17): prints and stores our show and status message for the
next login; a wrong show word is a usage error that stores nothing."""

from __future__ import annotations

from tests.cli.conftest import Cli


def test_status_prints_stores_and_clears(cli: Cli) -> None:
    """The default is `online`; `away back soon` is kept (also as the two settings); a bad
    word changes nothing; `online` alone clears the message."""
    assert cli("account", "add", "alice@localhost", "--password-stdin", stdin="pw\n").code == 0
    assert cli("status").out == "online\n"
    changed = cli("status", "away", "back", "soon")
    assert (changed.code, changed.out) == (0, "away: back soon\n")
    assert cli("status").out == "away: back soon\n"
    assert cli("settings", "show").out == "show = away\n"
    refused = cli("status", "sleeping")
    assert refused.code == 2
    assert "show must be one of online, away, dnd, xa" in refused.err
    assert cli("status").out == "away: back soon\n"
    assert cli("status", "online").out == "online\n"
    assert cli("settings", "status_message").out == "status_message = \n"
