"""`GET /admin/events` (the console's live feed) and `POST /admin/catalog/sync`.

The feed is read the way a browser reads it: a real HTTP stream, parsed line by line.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from httpkit import TOKEN, LogCapture, MakeClient, StandInSupervisor, assert_problem, read_event

from kensho.http import keys
from kensho.http.console_feed import ConsoleFeed
from kensho.http.keys import CONSOLE_FEED
from kensho.jobs.catalog_sync import SyncStatus
from kensho.jobs.sync_schedule import Held, Started

AUTH = {"Authorization": f"Bearer {TOKEN}"}
Client = TestClient[web.Request, web.Application]


async def _feed(client: Client) -> ConsoleFeed:
    return client.app[CONSOLE_FEED]


async def test_hidden_without_a_token_and_401_with_a_wrong_one(make_client: MakeClient) -> None:
    hidden = await make_client()
    resp = await hidden.get("/admin/events", headers=AUTH)
    assert resp.status == 404
    client = await make_client(admin_token=TOKEN)
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Bearer " + "x" * 8000},
    ):
        resp = await client.get("/admin/events", headers=headers)
        assert resp.status == 401
        assert_problem(
            await resp.json(content_type="application/problem+json"), 401, "unauthorized"
        )
    assert (await _feed(client)).subscribers == 0


async def test_streams_state_at_once_then_each_tick_and_shows_a_restart(
    make_client: MakeClient, supervisor: StandInSupervisor, logs: LogCapture
) -> None:
    client = await make_client(admin_token=TOKEN)
    async with client.get("/admin/events", headers=AUTH) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        assert resp.headers["Cache-Control"] == "no-store"
        name, state = await read_event(resp)
        assert name == "state"
        assert [c["name"] for c in state["tree"]["children"]] == ["cache", "breaker"]
        assert state["draining"] is False and "uptime_s" in state and "sync" in state

        restart = await client.post("/admin/actors/breaker/restart", headers=AUTH)
        assert restart.status == 202
        # the next event (one tick later) shows it: no polling of /admin/actors needed
        name, state = await read_event(resp)
        breaker = state["tree"]["children"][1]
        assert name == "state" and breaker["name"] == "breaker" and breaker["restarts"] == 1
        # the loop is not held by the open stream
        live = await client.get("/health/live")
        assert live.status == 200
    audits = [r for r in logs.records() if r.get("event") == "audit" and r["action"] == "events"]
    assert [a["outcome"] for a in audits] == ["ok"]  # once per subscription, not per event


async def test_a_client_that_goes_away_leaves_no_subscriber(make_client: MakeClient) -> None:
    client = await make_client(admin_token=TOKEN)
    feed = await _feed(client)
    streams = []
    for _ in range(3):
        resp = await client.get("/admin/events", headers=AUTH)
        await read_event(resp)
        streams.append(resp)
    assert feed.subscribers == 3 and not feed.idle.is_set()

    streams[0].close()  # drop the connection, as a closed browser tab does
    streams[1].close()
    _, state = await read_event(streams[2])  # the others keep streaming
    assert state["tree"]["name"] == "root"

    streams[2].close()
    await asyncio.wait_for(feed.idle.wait(), 10)  # each handler noticed and unsubscribed
    assert feed.subscribers == 0
    assert feed._task is None  # nobody listens: no snapshots are taken


async def test_graceful_shutdown_ends_every_stream(make_client: MakeClient) -> None:
    client = await make_client(admin_token=TOKEN)
    feed = await _feed(client)
    resp = await client.get("/admin/events", headers=AUTH)
    await read_event(resp)
    assert client.server.runner is not None
    await client.server.runner.shutdown()  # aiohttp's on_shutdown, as runner.cleanup() runs it
    events = []
    with pytest.raises(EOFError):
        while True:
            events.append((await read_event(resp))[0])
    assert events[-1] == "shutdown"
    await asyncio.wait_for(feed.idle.wait(), 10)
    late = await client.get("/admin/events", headers=AUTH)
    assert late.status == 503  # no new stream once the feed closed


async def test_a_failing_snapshot_is_logged_and_the_feed_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0

    def state() -> dict[str, int]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("snapshot broke")
        return {"n": calls}

    feed = ConsoleFeed(state, interval=0.01)
    async with feed.subscribe() as queue:
        first = await asyncio.wait_for(queue.get(), 5)
        second = await asyncio.wait_for(queue.get(), 5)
    assert json.loads(first or b"") == {"n": 1} and json.loads(second or b"") == {"n": 3}
    assert "snapshot failed" in caplog.text
    with pytest.raises(ValueError, match="positive"):
        ConsoleFeed(state, interval=0)


async def test_a_slow_reader_holds_only_the_latest_snapshot() -> None:
    n = 0
    tenth = asyncio.Event()

    def state() -> int:
        nonlocal n
        n += 1
        if n == 10:
            tenth.set()
        return n

    feed = ConsoleFeed(state, interval=0.01)
    async with feed.subscribe() as queue:
        await asyncio.wait_for(tenth.wait(), 10)  # ticks pass while nobody reads
        assert queue.qsize() == 1
        assert int(await queue.get() or b"0") >= 10  # not the first snapshot: the latest


class _Job:
    """A catalog sync job stand-in: `run_now` answers what the test says."""

    holder = "replica-a"

    def __init__(self, accept: bool) -> None:

        self.accept = accept
        self.triggered = 0
        self.status = SyncStatus(loaded=True, series_count=3)

    async def run_now(self) -> Started | Held:
        self.triggered += 1
        return Started("run-1") if self.accept else Held("replica-b", None)


@pytest.mark.parametrize(("accept", "status"), [(True, 202), (False, 409)])
async def test_sync_trigger(
    make_client: MakeClient, logs: LogCapture, accept: bool, status: int
) -> None:
    job = _Job(accept)

    def setup(app: web.Application) -> None:
        app[keys.CATALOG_SYNC] = job  # type: ignore[assignment]

    client = await make_client(setup, admin_token=TOKEN)
    assert (await client.post("/admin/catalog/sync")).status == 401
    resp = await client.post("/admin/catalog/sync", headers=AUTH)
    assert resp.status == status
    body = await resp.json(content_type=None)
    if accept:
        assert body["started"] is True and body["sync"]["series_count"] == 3
        assert body["run_id"] == "run-1" and body["holder"] == "replica-a"
    else:
        assert_problem(body, 409, "conflict")
        assert body["holder"] == "replica-b" and "replica-b" in body["detail"]
    assert job.triggered == 1
    audits = [r for r in logs.records() if r.get("action") == "catalog-sync"]
    assert [a["outcome"] for a in audits] == ["denied", "ok" if accept else "conflict"]


async def test_sync_trigger_without_a_job_is_503(make_client: MakeClient) -> None:
    client = await make_client(admin_token=TOKEN)
    resp = await client.post("/admin/catalog/sync", headers=AUTH)
    assert resp.status == 503
    assert "Retry-After" in resp.headers
