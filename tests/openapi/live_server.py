"""The real app (`create_app` with the default resources) on a loopback port, in its own thread.

Schemathesis drives HTTP synchronously through `requests`, so the server runs its own event
loop in a background thread. Everything is real: PostgreSQL (a database of its own, created
and dropped here, so the catalog the sync writes is exactly the simulator's), Redis under a
random cache prefix, the in-process Crunchyroll simulator serving a small slice of the bundled
catalog, the actor tree, auth, search and the catalog sync, which loads that slice before the
fixture yields.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import redis
from aiohttp import web

from kensho.catalog import Catalog, load_catalog
from kensho.composition import build_app
from kensho.config import Config
from kensho.http import keys
from kensho.serving import serving
from kensho.store.scratch import scratch_database
from kensho.upstream.simulator import SimConfig, running_simulator

__all__ = ["ADMIN_TOKEN", "DEMO", "LiveServer", "live_server", "small_catalog"]

ADMIN_TOKEN = "schemathesis-full-app-admin-token"
DEMO = ("demo@kensho.dev", "kensho-demo")
#: Start-up includes migrations and a sync of the small catalog; generous for a busy machine.
_START_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True)
class LiveServer:
    """Where the app listens, and the app itself (read its state from the test thread only
    for values fixed at start-up)."""

    url: str
    app: web.Application
    catalog: Catalog


def small_catalog(head: int = 20, tail: int = 10) -> Catalog:
    """The most popular `head` entries and `tail` from the long tail of the bundle: a sync of
    these takes about a second instead of a minute for the whole catalog."""
    every = load_catalog()
    entries = every.entries[:head] + every.entries[3000 : 3000 + tail]
    return Catalog(
        version=f"{every.version}-subset-{head}-{tail}",
        entries=entries,
        by_series_id=MappingProxyType({e.series_id: e for e in entries}),
    )


@contextlib.contextmanager
def _redis_keys_dropped(redis_url: str, prefix: str) -> Iterator[None]:
    """Delete the keys under `prefix` afterwards: Redis is shared with other test sessions."""
    try:
        yield
    finally:
        client = redis.Redis.from_url(redis_url)
        try:
            found = list(client.scan_iter(match=prefix + "*", count=500))
            if found:
                client.delete(*found)
        finally:
            client.close()


@contextlib.asynccontextmanager
async def _serve(config: Config, catalog: Catalog) -> AsyncIterator[tuple[str, web.Application]]:
    """Simulator, then the app; yields once the catalog sync has loaded the catalog."""
    async with running_simulator(SimConfig(catalog=catalog)) as sim_url:
        app = build_app(dataclasses.replace(config, upstream_url=sim_url))
        async with serving(app) as url:
            job = app[keys.CATALOG_SYNC]
            await job.settled.wait()  # loaded, the index rebuilt and the cache re-warmed
            assert job.status.loaded, f"the catalog sync did not load: {job.status}"
            yield url, app


@contextlib.contextmanager
def live_server(
    server_dsn: str, redis_url: str, data_dir: Path, catalog: Catalog | None = None
) -> Iterator[LiveServer]:
    """Run the real app until the block ends; the cache prefix is random, the database new."""
    catalog = catalog or small_catalog()
    prefix = f"kensho-test:{secrets.token_hex(6)}:"
    with (
        scratch_database(server_dsn, "kensho_openapi") as dsn,
        _redis_keys_dropped(redis_url, prefix),
    ):
        config = Config(
            database_url=dsn,
            redis_url=redis_url,
            admin_token=ADMIN_TOKEN,
            cache_prefix=prefix,
            redis_prefix=prefix,
            data_dir=data_dir,
            catalog_sync_interval=0,
            cursor_secret="openapi-full-app-cursor-key",
            log_level="WARNING",
            log_format="text",
            prestop_delay=0,
        )
        loop = asyncio.new_event_loop()
        stop = asyncio.Event()
        ready: Future[tuple[str, web.Application]] = Future()

        async def main() -> None:
            try:
                async with _serve(config, catalog) as served:
                    ready.set_result(served)
                    await stop.wait()
            except BaseException as exc:
                if not ready.done():
                    ready.set_exception(exc)
                raise

        thread = threading.Thread(target=loop.run_forever, name="full-app", daemon=True)
        thread.start()
        running = asyncio.run_coroutine_threadsafe(main(), loop)
        try:
            url, app = ready.result(timeout=_START_TIMEOUT)
            yield LiveServer(url=url, app=app, catalog=catalog)
        finally:
            loop.call_soon_threadsafe(stop.set)
            try:
                running.result(timeout=60)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(timeout=10)
                loop.close()
