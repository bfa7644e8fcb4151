"""The catalog through the cache: hits, misses, TTL, single flight, stale-if-error, replicas,
Redis down, metrics and the cache-warming job."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg2
import pytest

from kensho.catalog import CatalogEntry
from kensho.catalog.service import anime_key
from kensho.composition import services, stores
from kensho.config import Config
from kensho.http import keys
from kensho.http.app import create_app
from kensho.store.pool import create_pool, database_unavailable

from .conftest import MakeApp, cache_of

pytestmark = pytest.mark.asyncio


class FakeClock:
    def __init__(self) -> None:
        self.now = 2_000_000_000.0

    def __call__(self) -> float:
        return self.now


class CountingPool:
    """Wraps a pool and counts acquisitions (one per query): the database work done."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self.acquired = 0

    def acquire(self) -> Any:
        self.acquired += 1
        return self._pool.acquire()


def _l1_keys(client: Any, anime_id: str) -> list[bytes]:
    return [k for k in cache_of(client).l1 if anime_id.encode() in k]


async def test_hit_miss_and_ttl_expiry(
    make_app: MakeApp, catalog_pool: Any, entries: tuple[CatalogEntry, ...]
) -> None:
    clock, pool = FakeClock(), CountingPool(catalog_pool)
    client = await make_app(pool=pool, clock=clock, catalog_ttl=60, catalog_stale_ttl=0)
    path = f"/api/anime/{entries[0].series_id}"
    assert (await client.get(path)).status == 200
    cold = pool.acquired
    assert cold == 1  # one document: four queries (series, titles, ids, seasons), one connection
    for _ in range(5):
        assert (await client.get(path)).status == 200
    assert pool.acquired == cold  # served from the cache
    assert cache_of(client).lookups["l1"] >= 5
    clock.now += 61  # past the TTL (no stale window): a reload
    assert (await client.get(path)).status == 200
    assert pool.acquired == 2 * cold


async def test_single_flight_100_concurrent_requests_one_load(
    make_app: MakeApp, catalog_pool: Any, entries: tuple[CatalogEntry, ...]
) -> None:
    pool = CountingPool(catalog_pool)
    client = await make_app(pool=pool)
    path = f"/api/anime/{entries[3].series_id}"
    responses = await asyncio.gather(*(client.get(path) for _ in range(100)))
    bodies = {await r.read() for r in responses}
    assert {r.status for r in responses} == {200}
    assert len(bodies) == 1
    assert pool.acquired == 1  # one document load (one connection) for 100 requests


async def test_stale_if_error_serves_when_the_database_is_down(
    make_app: MakeApp, database_url: str, entries: tuple[CatalogEntry, ...]
) -> None:
    clock = FakeClock()
    pool = await create_pool(database_url, minsize=0, maxsize=2)
    client = await make_app(
        pool=pool, clock=clock, catalog_ttl=60, catalog_stale_ttl=0, catalog_error_ttl=3600
    )
    path = f"/api/anime/{entries[4].series_id}"
    before = await client.get(path)
    body = await before.read()
    pool.close()
    await pool.wait_closed()
    clock.now += 600  # stale, inside the error window: a reload is due and fails
    after = await client.get(path)
    assert after.status == 200
    assert await after.read() == body
    assert cache_of(client).counters["stale_if_error"] >= 1
    cold = await client.get(f"/api/anime/{entries[5].series_id}")  # never cached
    assert cold.status == 503
    assert cold.headers["Retry-After"]


async def test_admin_invalidation_reaches_another_replica(
    make_app: MakeApp, entries: tuple[CatalogEntry, ...]
) -> None:
    a, b = await make_app(), await make_app()
    anime_id = entries[6].series_id
    for client in (a, b):
        assert (await client.get(f"/api/anime/{anime_id}")).status == 200
    assert _l1_keys(b, anime_id)  # B holds the representation it served
    heard = asyncio.Event()
    cache_of(b).add_invalidation_listener(lambda _p: heard.set())
    resp = await a.post(
        "/admin/cache/invalidate",
        json={"pattern": f"anime:{anime_id}|*"},
        headers={"Authorization": "Bearer test-admin-token-123"},
    )
    assert resp.status == 200
    answer = await resp.json()
    assert answer["pattern"] == f"anime:{anime_id}|*" and answer["invalidated"] >= 1
    assert cache_of(a).get_cached(anime_key(anime_id)) is None
    await asyncio.wait_for(heard.wait(), 5)
    assert _l1_keys(b, anime_id) == []
    other = entries[7].series_id
    assert (await b.get(f"/api/anime/{other}")).status == 200


async def test_redis_down_serves_from_l1_and_readiness_is_degraded(
    aiohttp_client: Any, catalog_pool: Any, entries: tuple[CatalogEntry, ...]
) -> None:
    config = Config(redis_url="redis://127.0.0.1:1/0", catalog_warm_count=0)

    async def pool(app: Any) -> Any:
        app[keys.DB_POOL] = catalog_pool
        yield

    app = create_app(config, resources=[pool, stores.redis(), stores.cache(), services.catalog()])
    client = await aiohttp_client(app)
    path = f"/api/anime/{entries[0].series_id}"
    assert (await client.get(path)).status == 200
    assert (await client.get(path)).status == 200
    cache = client.app[keys.CACHE]
    assert cache.health()["status"] == "degraded"
    assert cache.lookups["l1"] >= 1
    ready = await client.get("/health/ready")
    assert ready.status == 200
    assert (await ready.json())["status"] == "degraded"


async def test_metrics_export_hit_ratio_by_tier(
    make_app: MakeApp, entries: tuple[CatalogEntry, ...]
) -> None:
    client = await make_app()
    path = f"/api/anime/{entries[0].series_id}"
    for _ in range(4):
        await client.get(path)
    text = await (await client.get("/metrics")).text()
    assert 'cache_hit_ratio{tier="l1"}' in text
    assert 'cache_lookups_total{tier="miss"}' in text


async def test_warming_loads_the_most_popular_anime(
    make_app: MakeApp, catalog_pool: Any, entries: tuple[CatalogEntry, ...]
) -> None:
    client = await make_app(catalog_warm_count=5)
    warmer = client.app[keys.CACHE_WARMER]
    task = warmer.start()
    result = await task
    assert result.warmed == 5 and result.failed == 0
    cache = cache_of(client)
    top = sorted(entries, key=lambda e: (-e.members, e.series_id))[:5]
    for entry in top:
        assert cache.get_cached(anime_key(entry.series_id)) is not None
    assert cache.get_cached(anime_key(top[-1].series_id)) is not None
    loads = cache.counters["loads"]
    resp = await client.get(f"/api/anime/{top[0].series_id}", headers={"Accept-Encoding": "br"})
    assert resp.status == 200
    assert cache.counters["loads"] == loads  # a warmed read loads nothing
    again = await warmer.after_sync(changed=True)
    assert again.warmed == 5


class BrokenPool:
    """A pool whose every acquire raises `error`: what the routes see of a failing store."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def acquire(self) -> Any:
        raise self.error


async def test_a_runtime_error_that_is_a_bug_is_a_500_not_an_outage(
    make_app: MakeApp, entries: tuple[CatalogEntry, ...]
) -> None:
    client = await make_app(pool=BrokenPool(RuntimeError("called while another coroutine waits")))
    resp = await client.get(f"/api/anime/{entries[7].series_id}")
    assert resp.status == 500  # before: 503 "the catalog database is unavailable"
    assert "Retry-After" not in resp.headers


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("Cannot acquire connection after closing pool"),
        psycopg2.OperationalError("server closed the connection unexpectedly"),
        ConnectionRefusedError("connect"),
        TimeoutError(),
    ],
)
async def test_an_unreachable_database_is_a_503_with_retry_after(
    make_app: MakeApp, entries: tuple[CatalogEntry, ...], error: Exception
) -> None:
    client = await make_app(pool=BrokenPool(error))
    resp = await client.get(f"/api/anime/{entries[8].series_id}")
    assert resp.status == 503 and resp.headers["Retry-After"] == "5"


async def test_aiopg_still_says_closing_pool_as_we_match_it(database_url: str) -> None:
    pool = await create_pool(database_url, minsize=0, maxsize=1)
    pool.close()
    await pool.wait_closed()
    with pytest.raises(RuntimeError) as info:
        async with pool.acquire():
            pass
    assert database_unavailable(info.value)
