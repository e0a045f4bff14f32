"""Fixtures for the UI tests: a fresh FakeService per test."""

from __future__ import annotations

import pytest

from tests.fakes_ui import FakeService


@pytest.fixture
def service() -> FakeService:
    """The in-memory service with its fixed data."""
    return FakeService()
