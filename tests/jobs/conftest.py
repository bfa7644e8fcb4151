"""A Crunchyroll-shaped in-memory source over a slice of the bundled catalog.

Stands in for the simulator (which we do not depend on in these tests) and lets a test remove
items, inject hostile objects and pause the listing at a page boundary.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from kensho.catalog import CatalogEntry, episode_id, load_catalog, season_id, seasons_for
from kensho.errors import UpstreamError
from kensho.jobs.catalog_source import BrowsePage


class FakeSource:
    """Serves series/seasons/episodes derived from `entries`, like the simulator does."""

    def __init__(self, entries: Sequence[CatalogEntry]) -> None:
        self.series: list[dict[str, Any]] = []
        self.seasons_by_series: dict[str, list[dict[str, Any]]] = {}
        self.episodes_by_season: dict[str, list[dict[str, Any]]] = {}
        self.browse_calls: list[int] = []
        self.pause_at: int | None = None
        #: a series id whose seasons request blocks (between `paused` and `resume`)
        self.pause_seasons_of: str | None = None
        self.cancelled_fetches = 0
        #: browse raises this at `fail_browse_at` (an upstream outage mid-listing)
        self.fail_browse_at: int | None = None
        self.paused = asyncio.Event()
        self.resume = asyncio.Event()
        for e in entries:
            plans = seasons_for(e)
            self.series.append(
                {
                    "id": e.series_id,
                    "type": "series",
                    "title": e.title,
                    "slug_title": e.title.lower().replace(" ", "-"),
                    "description": "",
                    "images": {
                        "poster_tall": [
                            [{"source": "https://img.test/p.jpg", "width": 60, "height": 90}]
                        ]
                    },
                    "series_metadata": {
                        "episode_count": sum(p.episode_count for p in plans),
                        "season_count": len(plans),
                        "is_mature": False,
                    },
                }
            )
            seasons = []
            for p in plans:
                sid = season_id(e.series_id, p.number)
                seasons.append(
                    {
                        "id": sid,
                        "series_id": e.series_id,
                        "season_number": p.number,
                        "title": f"{e.title} S{p.number}",
                        "number_of_episodes": p.episode_count,
                        "audio_locales": ["ja-JP"],
                    }
                )
                self.episodes_by_season[sid] = [
                    {
                        "id": episode_id(e.series_id, p.number, n),
                        "series_id": e.series_id,
                        "season_id": sid,
                        "episode": str(n),
                        "episode_number": n,
                        "sequence_number": n,
                        "title": f"Episode {n}",
                        "duration_ms": 1_420_000,
                        "episode_air_date": "2016-04-02T23:30:00Z",
                        "is_premium_only": n > 1,
                    }
                    for n in range(1, p.episode_count + 1)
                ]
            self.seasons_by_series[e.series_id] = seasons

    @property
    def episode_total(self) -> int:
        live = {s["id"] for ss in self.seasons_by_series.values() for s in ss}
        return sum(len(v) for k, v in self.episodes_by_season.items() if k in live)

    async def browse(self, start: int, n: int) -> BrowsePage:
        self.browse_calls.append(start)
        if start == self.fail_browse_at:
            raise UpstreamError("browse answered 503")
        if self.pause_at is not None and start == self.pause_at:
            self.paused.set()
            await self.resume.wait()
        items = self.series[start : start + n]
        return BrowsePage(tuple(items), len(self.series), start + n >= len(self.series))

    async def seasons(self, series_id: str) -> Sequence[Any]:
        if series_id == self.pause_seasons_of:
            self.paused.set()
            try:
                await self.resume.wait()
            except asyncio.CancelledError:
                self.cancelled_fetches += 1
                raise
        return self.seasons_by_series.get(series_id, [])

    async def episodes(self, season_id: str) -> Sequence[Any]:
        return self.episodes_by_season.get(season_id, [])


@pytest.fixture
def entries() -> tuple[CatalogEntry, ...]:
    """30 entries spread over the catalog (popular long series and obscure ones)."""
    all_entries = load_catalog().entries
    return all_entries[:10] + all_entries[5000:5010] + all_entries[-10:]


@pytest.fixture
def source(entries: tuple[CatalogEntry, ...]) -> FakeSource:
    return FakeSource(entries)


@pytest.fixture
async def clean_pool(db_pool: Any) -> AsyncIterator[Any]:
    """The session pool with the catalog tables emptied before the test (tests share the db)."""
    async with db_pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute(
            "TRUNCATE series, seasons, episodes, series_titles, genres, series_genres, "
            "series_external_ids, images, catalog_sync_state, catalog_sync_seen, "
            "catalog_sync_runs, leases CASCADE"
        )
    yield db_pool
