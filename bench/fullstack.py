"""The full server as the HTTP benchmarks run it: `kensho serve`'s logging, runner, access log,
GC settings and signal handling, over a PostgreSQL pool and a cache of its own."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Sequence
from typing import NoReturn

from aiohttp import web

from kensho.cache import CacheService, CacheSettings
from kensho.config import Config
from kensho.http import keys
from kensho.http.app import Resource, create_app
from kensho.http.server import serve
from kensho.observability.logging import configure_logging, flush_logging
from kensho.store.pool import create_pool

__all__ = ["pool_and_cache", "serve_full"]


def pool_and_cache(config: Config, dsn: str, *, maxsize: int = 8) -> Resource:
    """A pool on `dsn` and the config's cache (L1 + Redis), emptied and closed at the end."""

    async def stores(app: web.Application) -> AsyncIterator[None]:
        pool = await create_pool(dsn, minsize=1, maxsize=maxsize)
        cache = CacheService(CacheSettings.from_config(config))
        app[keys.METRICS].track_cache(cache.lookups)
        await cache.start()
        app[keys.DB_POOL], app[keys.CACHE] = pool, cache
        yield
        await cache.invalidate("*")
        await cache.close()
        pool.close()
        await pool.wait_closed()

    return stores


def serve_full(config: Config, resources: Sequence[Resource]) -> NoReturn:
    """Serve the app until signalled, as `kensho serve` does (queued JSON logging, one access
    line per request); exits with the server's status."""
    configure_logging(config.log_level, config.log_format, queued=True)
    app = create_app(config, resources=resources)
    try:
        status = asyncio.run(serve(config, app))
    finally:
        flush_logging()
    sys.exit(status)
