"""The composition's job resources at their edges: no catalog to warm, and a warming pass
that does not stop within the shutdown budget."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from kensho.composition.jobs import cache_warming
from kensho.config import Config
from kensho.http import keys
from kensho.http.app import create_app


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
