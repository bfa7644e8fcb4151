"""Background jobs: cache warming and the catalog sync (which refreshes search and the warm
cache after each run that changed the catalog)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from kensho.http import keys
from kensho.http.app import Resource
from kensho.http.readiness import ReadinessCheck
from kensho.jobs.cache_warming import CacheWarmer
from kensho.jobs.catalog_source import HttpCatalogSource
from kensho.jobs.catalog_sync import CatalogSync
from kensho.jobs.sync_schedule import CatalogSyncJob
from kensho.jobs.sync_status import SyncResult

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
    """The catalog sync job: at start when the catalog is empty, then every interval.

    Readiness requires a loaded catalog: a replica with an empty catalog would answer 404s.
    """

    async def resource(app: web.Application) -> AsyncIterator[None]:
        config = app[keys.CONFIG]
        client = app[keys.UPSTREAM]
        sync = CatalogSync(
            app[keys.DB_POOL],
            HttpCatalogSource(client.fetch_json),
            registry=app[keys.METRICS].registry,
        )

        async def after_run(result: SyncResult) -> None:
            # The search index and the warm cache are views of the catalog: refresh both.
            changed = result.rows_written > 0 or result.removed > 0
            search = app.get(keys.SEARCH)
            if changed and search is not None:
                await search.rebuild(reason="catalog-sync")
            warmer = app.get(keys.CACHE_WARMER)
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
