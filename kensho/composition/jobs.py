"""Background jobs: cache warming and the catalog sync (which refreshes search and the warm
cache after each run that changed the catalog)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace

from aiohttp import web

from kensho.actors.breaker import breaker_config
from kensho.http import keys
from kensho.http.app import Resource
from kensho.http.readiness import ReadinessCheck
from kensho.jobs.cache_warming import CacheWarmer
from kensho.jobs.catalog_source import HttpCatalogSource
from kensho.jobs.catalog_sync import CatalogSync
from kensho.jobs.catalog_version import VersionWatcher, catalog_version
from kensho.jobs.catalog_writer import CATALOG_CHANNEL
from kensho.jobs.sync_leadership import SYNC_LEASE
from kensho.jobs.sync_schedule import CatalogSyncJob
from kensho.jobs.sync_status import SyncResult
from kensho.observability.tracing import job_span
from kensho.store.lease import LeaseStore, holder_id
from kensho.store.notify import PgListener
from kensho.upstream.breaker import CircuitBreaker
from kensho.upstream.client import ClientSettings, CrunchyrollClient
from kensho.upstream.gate import LocalBreakerGate

__all__ = ["cache_warming", "catalog_sync"]

log = logging.getLogger("kensho.composition")


def cache_warming() -> Resource:
    """Warm the most popular anime in the background at start (and after each sync)."""

    async def resource(app: web.Application) -> AsyncIterator[None]:
        catalog, cache = app.get(keys.CATALOG), app.get(keys.CACHE)
        if catalog is None or cache is None:
            yield
            return
        warmer = CacheWarmer(
            catalog.most_popular,
            catalog.warm,
            count=app[keys.CONFIG].catalog_warm_count,
            invalidate=cache.invalidate,
        )
        app[keys.CACHE_WARMER] = warmer
        warmer.start()
        try:
            yield
        finally:
            if not await warmer.stop(app[keys.CONFIG].shutdown_timeout):
                app[keys.LIFECYCLE].abandoned.append("job:cache_warming")

    return resource


def catalog_sync() -> Resource:
    """The catalog sync job: at start when the catalog is empty, then every interval, on the
    one replica of the fleet that holds the sync lease; every replica follows the catalog
    version (notices and polling) and refreshes its readers when another replica synced.

    The sync has its own upstream client: its own connection pool (`catalog_sync_pool_size`
    slots, also its concurrency) and its own circuit breaker, so a sync never opens the users'
    breaker nor takes their pooled connections. Readiness requires a loaded catalog: a replica
    with an empty catalog would answer 404s.
    """

    async def resource(app: web.Application) -> AsyncIterator[None]:
        config = app[keys.CONFIG]
        pool = app[keys.DB_POOL]
        settings = ClientSettings.from_config(config, app.get(keys.UPSTREAM_URL))
        settings = replace(settings, pool_size=config.catalog_sync_pool_size)
        breaker = CircuitBreaker(breaker_config(config), name="crunchyroll-sync")
        client = CrunchyrollClient(settings, gate=LocalBreakerGate(breaker))
        await client.start()
        sync = CatalogSync(
            pool,
            HttpCatalogSource(client.fetch_json),
            concurrency=config.catalog_sync_pool_size,
            registry=app[keys.METRICS].registry,
        )

        async def refresh(changed: bool, run_id: str | None = None) -> None:
            # The search index and the warm cache are views of the catalog: refresh both.
            await sync.refresh_status()
            search = app.get(keys.SEARCH)
            if changed and search is not None:
                with job_span("search rebuild", run_id=run_id, reason="catalog-sync"):
                    await search.rebuild(reason="catalog-sync")
            warmer = app.get(keys.CACHE_WARMER)
            # pragma below: `kensho serve` always has a warmer where a sync runs (both need the
            # pool, and the cache is always there); compositions without one skip it
            if warmer is not None:  # pragma: no branch - see above
                await warmer.after_sync(changed=changed)

        async def after_run(result: SyncResult) -> None:
            await refresh(result.rows_written > 0 or result.removed > 0, result.run_id)

        leases = LeaseStore(pool, SYNC_LEASE, holder_id(), config.catalog_sync_lease_ttl)
        job = CatalogSyncJob(
            sync, interval=config.catalog_sync_interval, after_run=after_run, leases=leases
        )
        app[keys.CATALOG_SYNC] = job
        status = await sync.refresh_status()
        # A replica that starts with an empty catalog refreshes on any version; one with a
        # catalog has just built its readers from it.
        known = (await catalog_version(pool))[0] if status.loaded else 0
        watcher = VersionWatcher(
            pool, refresh, poll=config.catalog_version_poll, me=leases.holder, known=known
        )
        listener = PgListener(app[keys.DATABASE_DSN], CATALOG_CHANNEL, watcher.on_notice)

        async def caught_up() -> None:
            await watcher.check("poll")  # notices sent while we were not listening

        listener.on_connect = caught_up

        async def probe() -> None:
            status = job.status
            if not status.loaded:
                done = f"{status.progress:.0%}" if status.progress is not None else "starting"
                raise RuntimeError(f"catalog not loaded yet ({done})")

        app[keys.READINESS].add(ReadinessCheck("catalog", required=True, probe=probe))
        listener.start()
        watcher.start()
        job.start()
        log.info(
            "catalog sync job started as %s",
            leases.holder,
            extra={"event": "catalog_sync_job", "holder": leases.holder},
        )
        try:
            yield
        finally:
            log.info("stopping background jobs", extra={"event": "drain_jobs"})
            budget = config.shutdown_timeout
            if not (await watcher.stop(budget) and await listener.stop(budget)):
                app[keys.LIFECYCLE].abandoned.append("job:catalog_version")
            if not await job.stop(budget):
                app[keys.LIFECYCLE].abandoned.append("job:catalog_sync")
            await client.close()

    return resource
