"""End to end: the real simulator app on a loopback port -> the production Crunchyroll client
(`CrunchyrollClient.fetch_json`: anonymous token, retries, breaker gate) -> PostgreSQL."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from kensho.catalog import Catalog, load_catalog, seasons_for
from kensho.jobs.catalog_source import HttpCatalogSource
from kensho.jobs.catalog_sync import CatalogSync
from kensho.store.pool import fetch_one
from kensho.upstream.client import ClientSettings, CrunchyrollClient
from kensho.upstream.simulator import SimConfig, running_simulator


async def test_sync_through_simulator_matches_bundle_subset(clean_pool: Any) -> None:
    full = load_catalog()
    entries = full.entries[:25]
    subset = Catalog(full.version, entries, MappingProxyType({e.series_id: e for e in entries}))
    async with (
        running_simulator(SimConfig(catalog=subset)) as base,
        CrunchyrollClient(ClientSettings(base_url=base)) as client,
    ):
        source = HttpCatalogSource(client.fetch_json)
        sync = CatalogSync(clean_pool, source, catalog=subset.by_series_id, page_size=10)
        first = await sync.run()
        second = await sync.run()
    assert first.complete and first.invalid == 0 and first.series_seen == 25
    assert second.rows_written == 0
    episodes = sum(p.episode_count for e in entries for p in seasons_for(e))
    row = await fetch_one(
        clean_pool,
        "SELECT (SELECT count(*) FROM series), (SELECT count(*) FROM seasons), "
        "(SELECT count(*) FROM episodes)",
    )
    assert row == (25, sum(len(seasons_for(e)) for e in entries), episodes)
