"""Snapshots of every screen and of the states that matter (pytest-textual-snapshot).

Every shot at 80×24 (the smallest common terminal), and one per screen at 200×50; a frozen
clock (tests.fakes_ui.NOW, UTC), fixed FakeService data and no cursor blink, so that a snapshot
only changes when the UI does. Update with `pytest tests/ui --snapshot-update` and look at the
SVGs before committing them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.ui.helpers import LARGE, SMALL, make_app
from tests.ui.screens import LARGE_SHOTS, SHOTS, Shot


@pytest.mark.parametrize("shot", SHOTS, ids=[shot.name for shot in SHOTS])
def test_snapshot(shot: Shot, snap_compare: Callable[..., bool]) -> None:
    """The screen looks as accepted at 80×24."""
    app = make_app(shot.service(), **shot.options)
    assert snap_compare(app, terminal_size=SMALL, run_before=shot.before)


@pytest.mark.parametrize("shot", LARGE_SHOTS, ids=[shot.name for shot in LARGE_SHOTS])
def test_snapshot_large(shot: Shot, snap_compare: Callable[..., bool]) -> None:
    """The screen looks as accepted at 200×50."""
    app = make_app(shot.service(), **shot.options)
    assert snap_compare(app, terminal_size=LARGE, run_before=shot.before)
