"""Catalog API fixtures: a small real catalog in PostgreSQL, the real app, Redis by prefix.

The catalog is loaded with the real sync (`CatalogSync`) from an in-memory Crunchyroll-shaped
source over 40 bundle entries, once per session database. Apps get their own cache prefix, so
two apps in one test share Redis exactly as two replicas would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from kensho.cache import CacheService, CacheSettings, RedisSettings
from kensho.catalog import CatalogEntry, episode_id, load_catalog, season_id, seasons_for
from kensho.composition import jobs, services
from kensho.config import Config
from kensho.http import keys
from kensho.http.app import create_app
from kensho.jobs.catalog_source import BrowsePage
from kensho.jobs.catalog_sync import CatalogSync

ADMIN_TOKEN = "test-admin-token-123"
Client = TestClient[web.Request, web.Application]


class ListSource:
    """Serves series/seasons/episodes derived from bundle entries, as the simulator would."""

    def __init__(self, entries: Sequence[CatalogEntry]) -> None:
        self.series: list[dict[str, Any]] = []
        self._seasons: dict[str, list[dict[str, Any]]] = {}
        self._episodes: dict[str, list[dict[str, Any]]] = {}
        for e in entries:
            plans = seasons_for(e)
            img = "https://img.test/" + e.series_id
            self.series.append(
                {
                    "id": e.series_id,
                    "title": e.title,
                    "slug_title": e.title.lower().replace(" ", "-"),
                    "images": {
                        "poster_tall": [
                            [
                                {"source": img + "/60x90.jpg", "width": 60, "height": 90},
                                {"source": img + "/480x720.jpg", "width": 480, "height": 720},
                            ]
                        ]
                    },
                    "series_metadata": {
                        "episode_count": sum(p.episode_count for p in plans),
                        "season_count": len(plans),
                    },
                }
            )
            self._seasons[e.series_id] = []
            for p in plans:
                sid = season_id(e.series_id, p.number)
                self._seasons[e.series_id].append(
                    {
                        "id": sid,
                        "series_id": e.series_id,
                        "season_number": p.number,
                        "title": f"Season {p.number}",
                        "number_of_episodes": p.episode_count,
                    }
                )
                self._episodes[sid] = [
                    {
                        "id": episode_id(e.series_id, p.number, n),
                        "series_id": e.series_id,
                        "season_id": sid,
                        "episode_number": n,
                        "sequence_number": n,
                        "title": f"Episode {n}",
                        "duration_ms": 1_420_000,
                        "episode_air_date": "2016-04-02T23:30:00Z",
                        "is_premium_only": n > 1,
                    }
                    for n in range(1, min(p.episode_count, 30) + 1)
                ]

    async def browse(self, start: int, n: int) -> BrowsePage:
        items = self.series[start : start + n]
        return BrowsePage(tuple(items), len(self.series), start + n >= len(self.series))

    async def seasons(self, series_id: str) -> Sequence[Any]:
        return self._seasons.get(series_id, [])

    async def episodes(self, season_id: str) -> Sequence[Any]:
        return self._episodes.get(season_id, [])


@pytest.fixture(scope="session")
def entries() -> tuple[CatalogEntry, ...]:
    """40 entries: the 25 most popular and 15 from the long tail."""
    every = load_catalog().entries
    return every[:25] + every[3000:3015]


_loaded: set[str] = set()


@pytest.fixture
async def catalog_pool(
    db_pool: Any, database_url: str, entries: tuple[CatalogEntry, ...]
) -> AsyncIterator[Any]:
    """The session database with the small catalog synced into it (once per session)."""
    if database_url not in _loaded:
        result = await CatalogSync(db_pool, ListSource(entries), page_size=20).run()
        assert result.complete
        _loaded.add(database_url)
    yield db_pool


MakeApp = Callable[..., Awaitable[Client]]


@pytest.fixture
async def make_app(
    aiohttp_client: Any, catalog_pool: Any, redis_url: str, redis_prefix: str, redis_client: Any
) -> AsyncIterator[MakeApp]:
    """Build the real app with the catalog routes over `pool` and a cache on Redis.

    Apps built in one test share the Redis prefix (two replicas of one deployment).
    `pool=` replaces the database pool, `redis=None` runs L1 only, `redis_url_=` another Redis.
    """

    async def make(
        *,
        pool: Any = None,
        redis: str | None = redis_url,
        clock: Callable[[], float] | None = None,
        **overrides: Any,
    ) -> Client:
        settings: dict[str, Any] = {
            "admin_token": ADMIN_TOKEN,
            "catalog_warm_count": 0,
            **overrides,
        }
        config = Config(**settings)
        db = catalog_pool if pool is None else pool

        async def resource(app: web.Application) -> AsyncIterator[None]:
            cache = CacheService(
                CacheSettings(
                    prefix=redis_prefix,
                    redis=None
                    if redis is None
                    else RedisSettings(redis, probe_interval=0.05, socket_timeout=0.2),
                ),
                **({} if clock is None else {"clock": clock}),
            )
            app[keys.METRICS].track_cache(cache.lookups)
            await cache.start()
            app[keys.DB_POOL] = db
            app[keys.CACHE] = cache
            yield
            await cache.close()

        app = create_app(config, resources=[resource, services.catalog(), jobs.cache_warming()])
        client: Client = await aiohttp_client(app)
        return client

    yield make


def cache_of(client: Client) -> CacheService:
    return client.app[keys.CACHE]


def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
