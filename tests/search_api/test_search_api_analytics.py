"""Search analytics: batched writes to search_events, the admin view, overflow and failures."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from kensho.http.schemas.admin import SearchAnalyticsSchema
from kensho.search.analytics import AnalyticsRecorder, SearchEvent
from kensho.store.pool import create_pool, execute, fetch_all

from .conftest import ADMIN, MakeSearchApp
from .test_search_api_endpoints import get_json

AUTH = {"Authorization": f"Bearer {ADMIN}"}


def event(query: str = "q", count: int = 1) -> SearchEvent:
    return SearchEvent(datetime.now(UTC), query, None, None, count, 0.5)


async def test_queries_are_written_in_batches(make_search_app: MakeSearchApp) -> None:
    app = await make_search_app()
    await execute(app.pool, "TRUNCATE search_events")
    for q in ["Naruto", "naruto!", "NARUTO", "zzqxj nothing", "gate&type=movie"]:
        await get_json(app, f"/api/search?q={q}")
    page = await get_json(app, "/api/search?q=gate&limit=1")
    await get_json(app, f"/api/search?q=gate&limit=1&cursor={page['next_cursor']}")
    recorder = app.service.analytics
    assert recorder is not None and recorder.pending == 7
    assert await recorder.flush() == 7
    rows = await fetch_all(
        app.pool,
        "SELECT query, kind, result_count, latency_ms, paged FROM search_events ORDER BY id",
    )
    assert [r[0] for r in rows[:3]] == ["naruto"] * 3  # normalised text
    assert rows[3][0] == "zzqxj nothing" and rows[3][2] == 0
    assert rows[4][1] == "movie"
    assert [r[4] for r in rows[-2:]] == [False, True]  # the cursor page is marked
    assert all(r[3] >= 0 for r in rows)


async def test_admin_view_counts_top_and_zero_result_queries(
    make_search_app: MakeSearchApp,
) -> None:
    app = await make_search_app()
    await execute(app.pool, "TRUNCATE search_events")
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


async def test_events_are_flushed_at_shutdown(
    make_search_app: MakeSearchApp, search_db: str
) -> None:
    app = await make_search_app()
    await execute(app.pool, "TRUNCATE search_events")
    await get_json(app, "/api/search?q=shutdown%20flush%20probe")
    assert app.service.analytics is not None and app.service.analytics.pending == 1
    await app.client.close()  # runs the cleanup chain: search flushes, then the pool closes
    pool = await create_pool(search_db, minsize=1, maxsize=1)
    try:
        rows = await fetch_all(pool, "SELECT query FROM search_events")
    finally:
        pool.close()
        await pool.wait_closed()
    assert rows == [("shutdown flush probe",)]


async def test_recorder_drops_and_counts_when_full() -> None:
    batches: list[int] = []

    async def write(batch: Sequence[SearchEvent]) -> None:
        batches.append(len(batch))

    recorder = AnalyticsRecorder(write, batch_size=2, interval=60, max_buffer=3)
    for _ in range(5):
        recorder.record(event())
    assert recorder.stats()["dropped"] == 2 and recorder.pending == 3
    assert await recorder.flush() == 3
    assert batches == [2, 1]


async def test_recorder_wakes_on_a_full_batch_without_waiting_for_the_interval() -> None:
    done = asyncio.Event()

    async def write(batch: Sequence[SearchEvent]) -> None:
        done.set()

    recorder = AnalyticsRecorder(write, batch_size=2, interval=3600)
    recorder.start()
    try:
        recorder.record(event())
        recorder.record(event())
        await asyncio.wait_for(done.wait(), 5)
    finally:
        await recorder.close()
    assert recorder.stats()["written"] == 2


async def test_a_failed_write_loses_only_its_batch() -> None:
    calls = 0

    async def write(batch: Sequence[SearchEvent]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("db down")

    recorder = AnalyticsRecorder(write, batch_size=1, interval=60)
    recorder.record(event("a"))
    recorder.record(event("b"))
    assert await recorder.flush() == 1
    assert recorder.stats()["write_errors"] == 1 and recorder.stats()["dropped"] == 1


def test_recorder_rejects_nonsense_settings() -> None:
    async def write(batch: Sequence[SearchEvent]) -> None:
        return None

    with pytest.raises(ValueError):
        AnalyticsRecorder(write, batch_size=0)
    with pytest.raises(ValueError):
        AnalyticsRecorder(write, batch_size=10, max_buffer=5)
