"""Catalog sync against the real PostgreSQL, fed by an in-memory Crunchyroll-shaped source."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from kensho.catalog import CatalogEntry, SeasonPlan, episode_id, load_catalog, season_id
from kensho.catalog.derive import SEASON_LENGTH, episode_count
from kensho.errors import UpstreamError
from kensho.jobs.catalog_sync import CatalogSync
from kensho.jobs.sync_schedule import CatalogSyncJob, Held, Started
from kensho.store.pool import execute, fetch_all, fetch_one

from . import conftest
from .conftest import FakeSource


def _sync(pool: Any, source: FakeSource, **kw: Any) -> CatalogSync:
    return CatalogSync(
        pool, source, catalog=load_catalog().by_series_id, page_size=7, concurrency=4, **kw
    )


async def _count(pool: Any, query: str) -> int:
    row = await fetch_one(pool, query)
    assert row is not None
    return int(row[0])


async def test_counts_match_the_source(
    clean_pool: Any, source: FakeSource, entries: tuple[CatalogEntry, ...]
) -> None:
    result = await _sync(clean_pool, source).run()
    assert result.complete and result.invalid == 0
    assert result.pages == 5  # 30 series, 7 per page
    assert await _count(clean_pool, "SELECT count(*) FROM series") == len(entries)
    n_seasons = sum(len(v) for v in source.seasons_by_series.values())
    assert await _count(clean_pool, "SELECT count(*) FROM seasons") == n_seasons
    assert await _count(clean_pool, "SELECT count(*) FROM episodes") == source.episode_total
    n_titles = sum(len({(t.lang, t.text) for t in e.titles}) for e in entries)
    assert await _count(clean_pool, "SELECT count(*) FROM series_titles") == n_titles
    n_ext = sum(len(e.external_ids) for e in entries)
    assert await _count(clean_pool, "SELECT count(*) FROM series_external_ids") == n_ext
    top = entries[0]
    row = await fetch_one(
        clean_pool,
        "SELECT bundle_key, members, kind, genres FROM series WHERE id = %s",
        (top.series_id,),
    )
    assert row == (top.key, top.members, top.kind, sorted(top.genres))


async def test_second_sync_changes_nothing(clean_pool: Any, source: FakeSource) -> None:
    await _sync(clean_pool, source).run()
    before = await fetch_all(
        clean_pool,
        "SELECT (SELECT max(updated_at) FROM series), (SELECT max(updated_at) FROM episodes), "
        "(SELECT max(xmin::text::bigint) FROM series)",
    )
    again = await _sync(clean_pool, source).run()
    assert again.complete and again.rows_written == 0 and again.removed == 0
    after = await fetch_all(
        clean_pool,
        "SELECT (SELECT max(updated_at) FROM series), (SELECT max(updated_at) FROM episodes), "
        "(SELECT max(xmin::text::bigint) FROM series)",
    )
    assert after == before


async def test_changed_item_is_rewritten(clean_pool: Any, source: FakeSource) -> None:
    await _sync(clean_pool, source).run()
    target = source.series[3]
    target["title"] = "Renamed upstream"
    result = await _sync(clean_pool, source).run()
    assert result.written["series"] == 1
    assert "seasons" not in result.written and "episodes" not in result.written
    row = await fetch_one(clean_pool, "SELECT title FROM series WHERE id = %s", (target["id"],))
    assert row == ("Renamed upstream",)


async def test_killed_sync_resumes_from_checkpoint(
    clean_pool: Any, source: FakeSource, entries: tuple[CatalogEntry, ...]
) -> None:
    # page 3 (series 14..20) never finishes fetching; pages 1 and 2 commit meanwhile
    source.pause_seasons_of = source.series[14]["id"]
    committed = asyncio.Event()

    def on_page(checkpoint: int) -> None:
        if checkpoint == 14:
            committed.set()

    sync = _sync(clean_pool, source, on_page=on_page)
    task = asyncio.create_task(sync.run())
    await source.paused.wait()
    await committed.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert source.cancelled_fetches == 1  # the read-ahead is cancelled, not left running
    state = await fetch_one(
        clean_pool, "SELECT status, cursor FROM catalog_sync_state WHERE job = 'catalog'"
    )
    assert state == ("running", {"start": 14})
    assert await _count(clean_pool, "SELECT count(*) FROM series") == 14

    source.pause_seasons_of = None
    source.browse_calls.clear()
    result = await _sync(clean_pool, source).run()
    assert result.resumed_from == 14 and result.complete
    assert source.browse_calls[0] == 14
    assert result.removed == 0  # the first two pages count as seen in the resumed run
    assert await _count(clean_pool, "SELECT count(*) FROM series WHERE removed_at IS NULL") == len(
        entries
    )
    assert await _count(clean_pool, "SELECT count(*) FROM episodes") == source.episode_total


async def test_upstream_failure_mid_listing_fails_the_run_at_a_checkpoint(
    clean_pool: Any, source: FakeSource
) -> None:
    source.fail_browse_at = 21
    with pytest.raises(UpstreamError):
        await _sync(clean_pool, source).run()
    state = await fetch_one(
        clean_pool, "SELECT status, cursor FROM catalog_sync_state WHERE job = 'catalog'"
    )
    assert state == ("failed", {"start": 21})  # every page before the failure is committed
    assert await _count(clean_pool, "SELECT count(*) FROM series") == 21

    source.fail_browse_at = None
    source.browse_calls.clear()
    result = await _sync(clean_pool, source).run()
    assert result.resumed_from == 21 and result.complete and source.browse_calls[0] == 21
    assert await _count(clean_pool, "SELECT count(*) FROM series") == 30


async def test_removed_upstream_items_are_marked_and_can_return(
    clean_pool: Any, source: FakeSource
) -> None:
    await _sync(clean_pool, source).run()
    gone = source.series.pop(10)
    season_gone = source.seasons_by_series[source.series[0]["id"]].pop()
    result = await _sync(clean_pool, source).run()
    assert result.removed == 1
    rows = await fetch_all(clean_pool, "SELECT id FROM series WHERE removed_at IS NOT NULL")
    assert rows == [(gone["id"],)]
    row = await fetch_one(
        clean_pool, "SELECT removed_at IS NOT NULL FROM seasons WHERE id = %s", (season_gone["id"],)
    )
    assert row == (True,)
    n_eps = len(source.episodes_by_season[season_gone["id"]])
    assert (
        await _count(clean_pool, "SELECT count(*) FROM episodes WHERE removed_at IS NOT NULL")
        == n_eps
    )

    source.series.insert(10, gone)
    back = await _sync(clean_pool, source).run()
    assert back.removed == 0
    assert await _count(clean_pool, "SELECT count(*) FROM series WHERE removed_at IS NOT NULL") == 0


def _split_by_length(entry: CatalogEntry) -> tuple[SeasonPlan, ...]:
    """How releases before issue 16 derived seasons: blocks of 26 whatever the upstream had."""
    total, plans = episode_count(entry), []
    while total > 0:
        plans.append(SeasonPlan(len(plans) + 1, min(SEASON_LENGTH, total)))
        total -= plans[-1].episode_count
    return tuple(plans)


async def test_a_database_with_length_split_seasons_is_brought_up_to_date(
    clean_pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Death Note was synced as 26 + 11 episodes; upstream now has one season of 37. The next
    sync keeps season 1 and its first 26 episode ids, adds episodes 27-37 to it and marks the
    old season 2 and its 11 episodes removed (docs/catalog.md, "Existing databases")."""
    dn = load_catalog().by_series_id["G6QWD3EE6"]
    monkeypatch.setattr(conftest, "seasons_for", _split_by_length)
    old = FakeSource([dn])
    monkeypatch.undo()
    new = FakeSource([dn])
    assert [s["number_of_episodes"] for s in old.seasons_by_series[dn.series_id]] == [26, 11]
    assert [s["number_of_episodes"] for s in new.seasons_by_series[dn.series_id]] == [37]
    await _sync(clean_pool, old).run()
    first_ids = await fetch_all(
        clean_pool,
        "SELECT id FROM episodes WHERE season_id = %s ORDER BY episode_number",
        (season_id(dn.series_id, 1),),
    )

    result = await _sync(clean_pool, new).run()
    assert result.complete and result.removed == 0  # the series itself stays
    seasons = await fetch_all(
        clean_pool,
        "SELECT id, number_of_episodes, removed_at IS NOT NULL FROM seasons ORDER BY id",
    )
    assert sorted(seasons) == sorted(
        [(season_id(dn.series_id, 1), 37, False), (season_id(dn.series_id, 2), 11, True)]
    )
    live = await fetch_all(
        clean_pool,
        "SELECT id FROM episodes WHERE season_id = %s AND removed_at IS NULL "
        "ORDER BY episode_number",
        (season_id(dn.series_id, 1),),
    )
    assert live[:26] == first_ids and len(live) == 37
    assert live[36] == (episode_id(dn.series_id, 1, 37),)
    gone = await fetch_all(
        clean_pool, "SELECT season_id FROM episodes WHERE removed_at IS NOT NULL"
    )
    assert gone == [(season_id(dn.series_id, 2),)] * 11


async def test_empty_listing_does_not_remove_everything(
    clean_pool: Any, source: FakeSource
) -> None:
    await _sync(clean_pool, source).run()
    kept = list(source.series)
    source.series.clear()
    result = await _sync(clean_pool, source).run()
    assert result.complete and result.removed == 0
    assert await _count(clean_pool, "SELECT count(*) FROM series WHERE removed_at IS NULL") == len(
        kept
    )


async def test_hostile_and_malformed_items_are_skipped(clean_pool: Any, source: FakeSource) -> None:
    hostile: list[Any] = [
        {"id": "'; DROP TABLE series; --", "title": "x"},
        {"id": 12345},
        "not an object",
        None,
        {"id": "A" * 65},
        {"title": "no id"},
    ]
    source.series[1:1] = hostile
    big = source.series[0]
    big["title"] = "T\x00" + "x" * 100_000
    big["description"] = "d" * 1_000_000
    big["series_metadata"]["episode_count"] = 10**12
    result = await _sync(clean_pool, source).run()
    assert result.complete and result.invalid == len(hostile)
    row = await fetch_one(
        clean_pool,
        "SELECT length(title), position(chr(1) in title), length(description), episode_count "
        "FROM series WHERE id = %s",
        (big["id"],),
    )
    assert row == (500, 0, 10_000, None)
    assert await _count(clean_pool, "SELECT count(*) FROM series") == 30


async def test_metrics_and_status(clean_pool: Any, source: FakeSource) -> None:
    registry = CollectorRegistry()
    sync = _sync(clean_pool, source, registry=registry)
    assert (await sync.refresh_status()).loaded is False
    await sync.run()
    assert sync.status.loaded and sync.status.series_count == 30
    assert sync.status.last_result == "complete" and not sync.status.running
    assert sync.status.progress == 1.0
    assert registry.get_sample_value("catalog_sync_series") == 30
    assert registry.get_sample_value("catalog_sync_runs_total", {"result": "complete"}) == 1
    assert registry.get_sample_value("catalog_sync_pages_total") == 5
    assert registry.get_sample_value("catalog_sync_running") == 0


async def test_job_runs_at_start_when_empty_and_stops_promptly(
    clean_pool: Any, source: FakeSource
) -> None:
    job = CatalogSyncJob(_sync(clean_pool, source), interval=3600)
    job.start()
    await asyncio.wait_for(job.sync.run_finished.wait(), 30)
    assert job.status.loaded and job.status.series_count == 30
    calls = len(source.browse_calls)
    await asyncio.wait_for(job.stop(), 2)  # sleeping for an hour: cancel must be prompt
    assert len(source.browse_calls) == calls

    # a loaded, complete catalog: a new job does not sync at start
    idle = CatalogSyncJob(_sync(clean_pool, source), interval=0)
    idle.start()
    assert idle._task is not None
    await asyncio.wait_for(idle._task, 10)
    assert len(source.browse_calls) == calls


async def test_job_notifies_readers_after_a_complete_run_only(
    clean_pool: Any, source: FakeSource
) -> None:
    """The search rebuild and cache warming hang off `after_run`: complete runs only."""
    seen: list[Any] = []
    notified = asyncio.Event()

    async def after_run(result: Any) -> None:
        seen.append(result)
        notified.set()

    job = CatalogSyncJob(_sync(clean_pool, source), interval=0, after_run=after_run)
    job.start()
    await asyncio.wait_for(job.settled.wait(), 30)  # set only after the hook returned
    assert notified.is_set()
    assert len(seen) == 1 and seen[0].complete and seen[0].rows_written > 0
    await job.stop()

    # A failing hook is logged and does not kill the job (an interrupted state forces a run).
    await execute(clean_pool, "UPDATE catalog_sync_state SET status = 'failed'")

    async def broken(result: Any) -> None:
        seen.append(result)
        raise RuntimeError("hook failed")

    again = CatalogSyncJob(_sync(clean_pool, source), interval=0, after_run=broken)
    again.start()
    assert again._task is not None
    await asyncio.wait_for(again._task, 30)  # returns normally
    assert len(seen) == 2 and again.status.last_result == "complete"

    # A run that fails mid-listing does not notify.
    await execute(clean_pool, "UPDATE catalog_sync_state SET status = 'failed', cursor = '{}'")
    source.fail_browse_at = 14  # the third page (pages of 7)
    failing = CatalogSyncJob(_sync(clean_pool, source), interval=0, after_run=after_run)
    failing.start()
    assert failing._task is not None
    await asyncio.wait_for(failing._task, 30)
    assert failing.status.last_result == "failed"
    assert len(seen) == 2


async def test_run_now_runs_a_sync_now_and_refuses_while_one_runs(
    clean_pool: Any, source: FakeSource
) -> None:
    """The console's "Sync now": a job waiting an hour for its next run starts one at once."""
    job = CatalogSyncJob(_sync(clean_pool, source), interval=3600)
    job.start()
    await asyncio.wait_for(job.settled.wait(), 30)
    calls = len(source.browse_calls)

    job.sync.run_finished.clear()
    first = await job.run_now()
    assert isinstance(first, Started) and first.run_id
    assert isinstance(await job.run_now(), Held)  # running already: one run at a time
    await asyncio.wait_for(job.sync.run_finished.wait(), 30)
    assert len(source.browse_calls) > calls and job.status.last_result == "complete"
    await asyncio.wait_for(job.stop(), 2)

    # a job whose task ended (interval 0: start only) runs once more when asked
    once = CatalogSyncJob(_sync(clean_pool, source), interval=0)
    once.start()
    assert once._task is not None
    await asyncio.wait_for(once._task, 10)  # loaded and complete: nothing to do at start
    calls = len(source.browse_calls)
    assert isinstance(await once.run_now(), Started)
    assert once._current is not None
    await asyncio.wait_for(once._current, 30)
    assert len(source.browse_calls) > calls
    assert isinstance(await once.run_now(), Started)  # the run is over: it can be asked again
    await asyncio.wait_for(once.stop(), 5)
