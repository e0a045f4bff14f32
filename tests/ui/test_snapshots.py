"""Snapshots of every screen and of the states that matter (pytest-textual-snapshot).

One terminal size (100×32), a frozen clock (tests.fakes_ui.NOW, UTC), fixed FakeService data and
no cursor blink, so that a snapshot only changes when the UI does. Update with
`pytest tests/ui --snapshot-update` and look at the SVGs before committing them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.ui.helpers import SIZE, make_app
from tests.ui.screens import SHOTS, Shot


@pytest.mark.parametrize("shot", SHOTS, ids=[shot.name for shot in SHOTS])
def test_snapshot(shot: Shot, snap_compare: Callable[..., bool]) -> None:
    """The screen looks as accepted."""
    app = make_app(shot.service(), **shot.options)
    assert snap_compare(app, terminal_size=SIZE, run_before=shot.before)
