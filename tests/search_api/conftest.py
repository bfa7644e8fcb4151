"""Fixtures for the search feature over HTTP: a real PostgreSQL catalog, the real app factory.

The catalog is the 300 most popular bundle entries written into the session database's
`series` tables, so the search actor reads them through its own psycopg2 connection exactly as
in production and a build takes milliseconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import psycopg2
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from psycopg2.extras import execute_values

from kensho.actors import search as search_actor
from kensho.actors.supervisor import Supervisor
from kensho.cache import CacheService, CacheSettings
from kensho.composition import services
from kensho.config import Config
from kensho.flags import FeatureFlags
from kensho.http import keys
from kensho.http.app import Resource, create_app
from kensho.search.protocol import Published
from kensho.search.service import SearchService
from kensho.search.view import rows_from_bundle
from kensho.store.migrations import migrate
from kensho.store.pool import create_pool
from kensho.store.search_queries import CatalogSearchRow

ADMIN = "admin-token-for-tests"
CATALOG_SIZE = 300


def seed(dsn: str, rows: Sequence[CatalogSearchRow]) -> None:
    """Write `rows` into the catalog tables (replacing what was there)."""
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("TRUNCATE series CASCADE")
            execute_values(
                cur,
                "INSERT INTO series (id, title, kind, genres, members, rating, content_hash) "
                "VALUES %s",
                [(r.id, r.title, r.kind, list(r.genres), r.members, r.rating, "h") for r in rows],
            )
            execute_values(
                cur,
                "INSERT INTO series_titles (series_id, lang, text) VALUES %s "
                "ON CONFLICT DO NOTHING",
                [(r.id, lang, text) for r in rows for lang, text in r.titles],
            )
            execute_values(
                cur,
                "INSERT INTO series_external_ids (series_id, source, value) VALUES %s",
                [(r.id, k, v) for r in rows for k, v in r.external_ids.items()],
            )
    finally:
        conn.close()


@pytest.fixture(scope="session")
def catalog_rows() -> list[CatalogSearchRow]:
    return rows_from_bundle()[:CATALOG_SIZE]


@pytest.fixture(scope="session")
def search_db(database_url: str, catalog_rows: list[CatalogSearchRow]) -> str:
    """The session database, migrated and holding the test catalog."""
    asyncio.run(migrate(database_url))
    seed(database_url, catalog_rows)
    return database_url


@pytest.fixture
def config(tmp_path: Any) -> Config:
    return Config(
        admin_token=ADMIN,
        cursor_secret="cursor-key-for-tests",
        data_dir=tmp_path,
        log_format="text",
    )


@dataclass
class SearchApp:
    client: TestClient[web.Request, web.Application]
    app: web.Application
    service: SearchService
    cache: CacheService | None
    pool: Any


MakeSearchApp = Callable[..., Awaitable[SearchApp]]


@pytest.fixture
async def make_search_app(
    aiohttp_client: Any, config: Config, search_db: str
) -> AsyncIterator[MakeSearchApp]:
    """Build the real app with PostgreSQL, an optional L1 cache, the actor tree and search."""
    caches: list[CacheService] = []

    async def make(
        *,
        dsn: str | None = None,
        cache: bool = True,
        with_pool: bool = True,
        built: bool = True,
        settings: dict[str, Any] | None = None,
        flags: FeatureFlags | None = None,
        **actor_deps: Any,
    ) -> SearchApp:
        """`built=False` returns without waiting for the first index (it builds after start);
        `settings` change the test `Config`."""
        cfg = dataclasses.replace(config, **(settings or {}))
        url = dsn or search_db
        pool = await create_pool(url, minsize=1, maxsize=4) if with_pool else None
        svc_cache = None
        if cache:
            prefix = f"kensho-test:{secrets.token_hex(4)}:"
            svc_cache = CacheService(CacheSettings(prefix=prefix))
            caches.append(svc_cache)
        actor_deps.setdefault("database_url", url)
        sup = Supervisor("root", [search_actor.child_spec(cfg, **actor_deps)])

        async def stores(app: web.Application) -> AsyncIterator[None]:
            # Opened first, closed last: search flushes its analytics while the pool works.
            if pool is not None:
                app[keys.DB_POOL] = pool
            if svc_cache is not None:
                app[keys.CACHE] = svc_cache
            if flags is not None:
                app[keys.FLAGS] = flags
            yield
            if pool is not None:
                pool.close()
                await pool.wait_closed()

        resources: list[Resource] = [stores, services.actor_tree(lambda _c: sup)]
        resources.append(services.search())
        app = create_app(cfg, resources=resources)
        client: TestClient[web.Request, web.Application] = await aiohttp_client(app)
        if built:
            await sup.handle("search").ask(Published(), timeout=60)
        return SearchApp(client, app, app[keys.SEARCH], svc_cache, pool)

    yield make
    for c in caches:
        await c.close()


@asynccontextmanager
async def fresh_database(
    make_database: Callable[[], str], rows: Sequence[CatalogSearchRow]
) -> AsyncIterator[str]:
    """An extra migrated database holding `rows` (for tests that change the catalog)."""
    dsn = make_database()
    await migrate(dsn)
    await asyncio.to_thread(seed, dsn, rows)
    yield dsn
