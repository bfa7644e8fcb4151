"""Fixtures for the issue-4 tests (shared by tests/streams and tests/resilience)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from auth.kit import Captured


@pytest.fixture
def captured_logs() -> Iterator[Captured]:
    handler = Captured()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
