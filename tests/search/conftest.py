"""Fixtures for search tests: the sample index, built once."""

from __future__ import annotations

import pytest
from search_sample import KEY, RECORDS

from kensho.search import SearchIndex, build_index


@pytest.fixture(scope="session")
def index() -> SearchIndex:
    return build_index(RECORDS, cursor_key=KEY)
