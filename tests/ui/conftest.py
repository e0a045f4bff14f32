"""Fixtures for the UI tests: a fresh FakeService per test; the 200×50 README screenshots are
collected only when they are to be written (`-m screenshots`), since `test_snapshot_large`
already renders the same screens in the ordinary suite."""

from __future__ import annotations

import pytest

from tests.fakes_ui import FakeService


@pytest.fixture
def service() -> FakeService:
    """The in-memory service with its fixed data."""
    return FakeService()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave the large screenshot writers out of a run that will not write screenshots."""
    if "screenshots" in str(config.getoption("markexpr", "")):
        return
    large = [item for item in items if item.name.startswith("test_screenshot_large[")]
    if large:
        config.hook.pytest_deselected(items=large)
        items[:] = [item for item in items if item not in large]
