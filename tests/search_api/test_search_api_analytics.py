"""Search analytics: counts per query per minute, batched upserts, the admin view, bounds."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from kensho.http.schemas.admin import SearchAnalyticsSchema
from kensho.search.analytics import AnalyticsRecorder, QueryKey, QueryMinute
from kensho.store.pool import create_pool, execute, fetch_all
from kensho.store.search_queries import add_query_counts

from .conftest import ADMIN, MakeSearchApp
from .test_search_api_endpoints import get_json

AUTH = {"Authorization": f"Bearer {ADMIN}"}


def key(query: str = "q", count: int = 1) -> QueryKey:
    return QueryKey(query, None, None, False, count)


async def stored(pool: object) -> list[tuple[object, ...]]:
    return await fetch_all(
        pool,
        "SELECT query, kind, genre, paged, result_count, searches FROM search_query_minutes "
        "ORDER BY query, paged",
    )


async def test_searches_are_counted_per_normalised_query(make_search_app: MakeSearchApp) -> None:
    app = await make_search_app()
    await execute(app.pool, "TRUNCATE search_query_minutes")
    for q in ["Naruto", "naruto!", "NARUTO", "zzqxj nothing", "gate&type=movie"]:
        await get_json(app, f"/api/search?q={q}")
    page = await get_json(app, "/api/search?q=gate&limit=1")
    await get_json(app, f"/api/search?q=gate&limit=1&cursor={page['next_cursor']}")
    recorder = app.service.analytics
    assert recorder is not None and recorder.pending == 7
    assert await recorder.flush() == 7
    rows = await stored(app.pool)
    naruto = [r for r in rows if r[0] == "naruto"]
    assert len(naruto) == 1 and naruto[0][5] == 3 and naruto[0][4] > 0  # normalised, counted
    assert ("zzqxj nothing", "", "", False, 0, 1) in rows  # a zero-result query
    assert [r[5] for r in rows if r[0] == "gate" and r[1] == "movie"] == [1]
    assert ("gate", "", "", True, 1, 1) in rows  # the cursor page is marked
    assert recorder.stats()["rows_written"] == len(rows)


async def test_n_searches_give_exact_counts_hot_and_cold(make_search_app: MakeSearchApp) -> None:
    """Hot-path hits (a target seen before), slow-path hits (same page, another spelling),
    misses and 304s all count, once each; repeated flushes add up."""
    app = await make_search_app()
    await execute(app.pool, "TRUNCATE search_query_minutes")
    recorder = app.service.analytics
    assert recorder is not None
    etag = ""
    for n in range(25):
        path = "/api/search?q=bleach" if n % 2 else f"/api/search?q=BLEACH{'!' * (n % 5)}"
        headers = {"If-None-Match": etag} if n % 3 == 0 and etag else {}
        resp = await app.client.get(path, headers=headers)
        assert resp.status in (200, 304)
        etag = resp.headers["ETag"]
        if n == 10:
            assert await recorder.flush() == 11  # a flush in the middle: counts still add up
    for _ in range(4):
        await get_json(app, "/api/search?q=qqqqzzzz")
    resp = await app.client.get("/admin/search/analytics?window=1h&limit=5", headers=AUTH)
    body = await resp.json()
    assert resp.status == 200, body
    assert body["top_queries"] == [
        {"query": "bleach", "count": 25},
        {"query": "qqqqzzzz", "count": 4},
    ]
    assert body["zero_result_queries"] == [{"query": "qqqqzzzz", "count": 4}]
    assert body["recorder"]["recorded"] == body["recorder"]["written"] == 29


async def test_admin_view_counts_top_and_zero_result_queries(
    make_search_app: MakeSearchApp,
) -> None:
    app = await make_search_app()
    await execute(app.pool, "TRUNCATE search_query_minutes")
    for q in ["naruto"] * 3 + ["gate"] * 2 + ["qqqqzzzz"] * 2 + ["xxjjkk"]:
        await get_json(app, f"/api/search?q={q}")
    resp = await app.client.get("/admin/search/analytics?window=1h&limit=2", headers=AUTH)
    body = await resp.json()
    assert resp.status == 200, body
    assert SearchAnalyticsSchema().validate(body) == {}
    assert body["top_queries"] == [{"query": "naruto", "count": 3}, {"query": "gate", "count": 2}]
    assert body["zero_result_queries"] == [
        {"query": "qqqqzzzz", "count": 2},
        {"query": "xxjjkk", "count": 1},
    ]
    assert resp.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/admin/search/analytics", {}, 401),
        ("/admin/search/analytics", {"Authorization": "Bearer wrong"}, 401),
        ("/admin/search/analytics?window=0h", AUTH, 400),
        ("/admin/search/analytics?window=91d", AUTH, 400),
        ("/admin/search/analytics?window=24", AUTH, 400),
        ("/admin/search/analytics?window=1h%00", AUTH, 400),
        ("/admin/search/analytics?limit=500", AUTH, 400),
    ],
)
async def test_admin_view_rejects_bad_requests(
    make_search_app: MakeSearchApp, path: str, headers: dict[str, str], status: int
) -> None:
    app = await make_search_app()
    resp = await app.client.get(path, headers=headers)
    assert resp.status == status


async def test_pending_counts_are_flushed_at_shutdown(
    make_search_app: MakeSearchApp, search_db: str
) -> None:
    app = await make_search_app()
    await execute(app.pool, "TRUNCATE search_query_minutes")
    for _ in range(3):
        await get_json(app, "/api/search?q=shutdown%20flush%20probe")
    assert app.service.analytics is not None and app.service.analytics.pending == 3
    await app.client.close()  # runs the cleanup chain: search flushes, then the pool closes
    pool = await create_pool(search_db, minsize=1, maxsize=1)
    try:
        rows = await fetch_all(pool, "SELECT query, searches FROM search_query_minutes")
    finally:
        pool.close()
        await pool.wait_closed()
    assert rows == [("shutdown flush probe", 3)]


def test_counts_are_kept_per_minute() -> None:
    now = [120.0]
    recorder = AnalyticsRecorder(lambda rows: asyncio.sleep(0), clock=lambda: now[0])
    recorder.count(key("a"))
    recorder.count(key("a"))
    now[0] = 179.9
    recorder.count(key("a"))
    now[0] = 180.0
    recorder.count(key("a"))
    recorder.count(key("b"))
    rows = recorder._take()
    assert [(r.minute, r.key.query, r.searches) for r in rows] == [
        (datetime.fromtimestamp(120, UTC), "a", 3),
        (datetime.fromtimestamp(180, UTC), "a", 1),
        (datetime.fromtimestamp(180, UTC), "b", 1),
    ]
    assert recorder.pending == 0


async def test_recorder_drops_new_keys_when_full_and_counts_them() -> None:
    batches: list[list[tuple[str, int]]] = []

    async def write(batch: Sequence[QueryMinute]) -> None:
        batches.append([(r.key.query, r.searches) for r in batch])

    recorder = AnalyticsRecorder(write, batch_size=2, interval=60, max_keys=3)
    for q in ["a", "b", "c", "d", "e", "a", "a"]:
        recorder.count(key(q))
    stats = recorder.stats()
    assert stats["dropped"] == 2 and stats["pending_keys"] == 3 and recorder.pending == 5
    assert await recorder.flush() == 5
    assert batches == [[("a", 3), ("b", 1)], [("c", 1)]]
    recorder.count(key("d"))  # room again after the flush
    assert recorder.pending == 1


async def test_recorder_wakes_on_a_full_batch_without_waiting_for_the_interval() -> None:
    done = asyncio.Event()

    async def write(batch: Sequence[QueryMinute]) -> None:
        done.set()

    recorder = AnalyticsRecorder(write, batch_size=2, interval=3600)
    recorder.start()
    try:
        recorder.count(key("a"))
        recorder.count(key("a"))
        assert not done.is_set()  # one key: not a batch yet
        recorder.count(key("b"))
        await asyncio.wait_for(done.wait(), 5)
    finally:
        await recorder.close()
    assert recorder.stats()["written"] == 3


async def test_close_waits_for_a_batch_being_written_and_writes_the_rest() -> None:
    writing, release = asyncio.Event(), asyncio.Event()
    written: list[int] = []

    async def write(batch: Sequence[QueryMinute]) -> None:
        writing.set()
        await release.wait()
        written.append(sum(r.searches for r in batch))

    recorder = AnalyticsRecorder(write, batch_size=1, interval=3600)
    recorder.start()
    recorder.count(key("a"))
    await asyncio.wait_for(writing.wait(), 5)
    recorder.count(key("b"))
    recorder.count(key("b"))
    closing = asyncio.create_task(recorder.close())
    await asyncio.sleep(0)
    release.set()
    await asyncio.wait_for(closing, 5)
    assert written == [1, 2] and recorder.pending == 0


async def test_a_failed_write_loses_only_its_batch() -> None:
    calls = 0

    async def write(batch: Sequence[QueryMinute]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("db down")

    recorder = AnalyticsRecorder(write, batch_size=1, interval=60)
    recorder.count(key("a"))
    recorder.count(key("a"))
    recorder.count(key("b"))
    assert await recorder.flush() == 1
    assert recorder.stats()["write_errors"] == 1 and recorder.stats()["dropped"] == 2


def test_recorder_rejects_nonsense_settings() -> None:
    async def write(batch: Sequence[QueryMinute]) -> None:
        return None

    with pytest.raises(ValueError):
        AnalyticsRecorder(write, batch_size=0)
    with pytest.raises(ValueError):
        AnalyticsRecorder(write, batch_size=10, max_keys=5)
    with pytest.raises(ValueError):
        AnalyticsRecorder(write, interval=0)


async def test_stored_counts_add_up_across_writes(search_db: str) -> None:
    minute = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    pool = await create_pool(search_db, minsize=1, maxsize=1)
    try:
        await execute(pool, "TRUNCATE search_query_minutes")
        rows = [
            (minute, "add up", None, None, False, 3, 2),
            (minute, "add up", "", "", False, 3, 1),  # the same key as the row above
            (minute, "add up", "tv", None, False, 3, 5),
        ]
        await add_query_counts(pool, rows)
        await add_query_counts(pool, rows[:1])
        got = await fetch_all(pool, "SELECT kind, searches FROM search_query_minutes ORDER BY kind")
    finally:
        pool.close()
        await pool.wait_closed()
    assert got == [("", 5), ("tv", 5)]
