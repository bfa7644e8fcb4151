"""The composition's job resources at their edges: no catalog to warm, and jobs that do not
stop within the shutdown budget."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from kensho.composition.jobs import cache_warming, catalog_sync
from kensho.config import Config
from kensho.http import keys
from kensho.http.app import create_app
from kensho.jobs.catalog_version import VersionWatcher
from kensho.jobs.sync_schedule import CatalogSyncJob
from kensho.store.migrations import migrate
from kensho.store.pool import create_pool


@contextlib.asynccontextmanager
async def _sync_app(
    aiohttp_client: Any, make_database: Callable[[], str]
) -> AsyncIterator[tuple[web.Application, Any]]:
    """The catalog sync resource alone, on a migrated database of its own (the job takes the
    fleet's sync lease, which other tests must not see), with an upstream that refuses."""
    dsn = make_database()
    pool = await create_pool(dsn, minsize=1, maxsize=4)
    try:
        await migrate(pool)

        async def deps(app: web.Application) -> AsyncIterator[None]:
            app[keys.DB_POOL] = pool
            app[keys.DATABASE_DSN] = dsn
            yield

        config = Config(upstream_url="http://127.0.0.1:9", catalog_sync_interval=3600)
        app = create_app(config, resources=[deps, catalog_sync()])
        client = await aiohttp_client(app)
        try:
            yield app, client
        finally:
            await client.close()
    finally:
        pool.close()
        await pool.wait_closed()


async def test_without_a_catalog_nothing_is_warmed(aiohttp_client: Any) -> None:
    app = create_app(Config(), resources=[cache_warming()])
    client = await aiohttp_client(app)
    assert keys.CACHE_WARMER not in app
    await client.close()
    assert app[keys.LIFECYCLE].abandoned == []


class StuckCatalog:
    """A catalog whose popularity query ignores cancellation until released (a stuck driver)."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def most_popular(self, _count: int) -> list[Any]:
        self.entered.set()
        while True:
            try:
                await self.release.wait()
                return []
            except asyncio.CancelledError:
                continue

    async def warm(self, _ids: Any) -> Any:
        raise AssertionError("nothing to warm")


class NoCache:
    async def invalidate(self, _pattern: str) -> int:
        return 0


async def test_a_warming_pass_that_outlives_the_budget_is_reported_abandoned(
    aiohttp_client: Any,
) -> None:
    catalog = StuckCatalog()

    async def deps(app: web.Application) -> AsyncIterator[None]:
        app[keys.CATALOG] = catalog  # type: ignore[assignment]
        app[keys.CACHE] = NoCache()  # type: ignore[assignment]
        yield

    app = create_app(Config(shutdown_timeout=0.1), resources=[deps, cache_warming()])
    client = await aiohttp_client(app)
    await asyncio.wait_for(catalog.entered.wait(), 10)
    try:
        await client.close()
        assert app[keys.LIFECYCLE].abandoned == ["job:cache_warming"]
    finally:
        catalog.release.set()  # let the stuck pass end with the test


async def test_sync_jobs_that_stop_late_are_reported_abandoned(
    aiohttp_client: Any, make_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The catalog version watcher and the sync job each say whether they stopped within the
    budget (`cancel_within`); the composition names the late ones for the exit status. On a
    database of its own: the job takes the fleet's sync lease, which other tests must not see."""
    for cls in (VersionWatcher, CatalogSyncJob):
        real_stop = cls.stop

        async def late_stop(self: Any, budget: float | None = None, _real: Any = real_stop) -> bool:
            await _real(self, budget)  # stopped for real, then reported late
            return False

        monkeypatch.setattr(cls, "stop", late_stop)
    async with _sync_app(aiohttp_client, make_database) as (app, client):
        assert isinstance(app[keys.CATALOG_SYNC], CatalogSyncJob)
        await client.close()
        assert app[keys.LIFECYCLE].abandoned == ["job:catalog_version", "job:catalog_sync"]


async def test_readiness_fails_until_the_catalog_is_loaded(
    aiohttp_client: Any, make_database: Callable[[], str]
) -> None:
    """An empty catalog and an upstream that refuses: the required `catalog` check says why
    the replica is not ready, so a balancer sends it nothing it would answer with 503s."""
    async with _sync_app(aiohttp_client, make_database) as (_app, client):
        resp = await client.get("/health/ready")
        assert resp.status == 503
        check = (await resp.json())["checks"]["catalog"]
        assert check["status"] == "failing" and check["required"] is True
        assert check["error"] == "RuntimeError"  # the class only: messages may carry DSNs
