"""The series issue 14 added to /metrics: process, loop lag, view reads, pools, timings."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kensho.actors.handle import ActorHandle
from kensho.actors.stats import ActorStats
from kensho.config import Config
from kensho.http.loop_monitor import LoopMonitor
from kensho.observability import timings
from kensho.observability.metrics import Metrics
from kensho.store.pool import execute, fetch_all, fetch_one
from kensho.upstream.client import ClientSettings, CrunchyrollClient
from kensho.upstream.simulator import SimConfig, running_simulator


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            out[s.name, tuple(sorted(s.labels.items()))] = s.value
    return out


def _value(metrics: Metrics, name: str, **labels: str) -> float:
    return _samples(metrics).get((name, tuple(sorted(labels.items()))), 0.0)


def test_process_and_gc_series() -> None:
    names = {name for name, _ in _samples(Metrics())}
    assert {
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "python_gc_collections_total",
    } <= names


def test_view_reads_are_counted_per_actor() -> None:
    """Hot reads go around the mailbox: without this count the actor shows no load."""
    stats = ActorStats("search")
    handle = ActorHandle("search", stats, ask_timeout=1, stash_limit=1)
    for _ in range(3):
        assert handle.view is None
    assert handle.last_view is None
    assert stats.snapshot()["view_reads"] == 4
    metrics = Metrics()
    tree = {
        "name": "root",
        "children": [{"name": "search", "children": None, "stats": stats.snapshot()}],
    }
    metrics.track_actors(lambda: tree)
    assert _value(metrics, "actor_view_reads_total", actor="search") == 4
    assert _value(metrics, "actor_messages_processed_total", actor="search") == 0


async def test_loop_lag_is_a_histogram_of_ticks() -> None:
    ticked = asyncio.Event()
    lags: list[float] = []

    def observe(lag: float) -> None:
        timings.LOOP_LAG.observe(lag)
        lags.append(lag)
        ticked.set()

    before = _value(Metrics(), "event_loop_lag_seconds_count")
    monitor = LoopMonitor(interval=0.01, observe=observe)
    monitor.start()
    try:
        await ticked.wait()
    finally:
        await monitor.stop()
    assert _value(Metrics(), "event_loop_lag_seconds_count") == before + len(lags)


async def test_query_helpers_are_timed(db_pool: Any) -> None:
    metrics = Metrics()
    before = {
        h: _value(metrics, "db_query_duration_seconds_count", helper=h)
        for h in ("fetch_one", "fetch_all", "execute")
    }
    assert await fetch_one(db_pool, "SELECT 1") == (1,)
    assert await fetch_all(db_pool, "SELECT 1") == [(1,)]
    assert await execute(db_pool, "SELECT 1") == 1
    with pytest.raises(Exception, match="syntax"):
        await fetch_one(db_pool, "SELEC 1")  # failures are timed too
    after = {h: _value(metrics, "db_query_duration_seconds_count", helper=h) for h in before}
    assert after == {
        "fetch_one": before["fetch_one"] + 2,
        "fetch_all": before["fetch_all"] + 1,
        "execute": before["execute"] + 1,
    }


async def test_db_pool_series(db_pool: Any) -> None:
    metrics = Metrics()
    metrics.track_db_pool(db_pool)
    async with db_pool.acquire():
        in_use = _value(metrics, "db_pool_connections", state="in_use")
        assert in_use >= 1
    assert _value(metrics, "db_pool_connections", state="in_use") == in_use - 1
    assert _value(metrics, "db_pool_max") == db_pool.maxsize
    assert _value(metrics, "db_pool_waiting") == 0


def test_upstream_pool_series() -> None:
    metrics = Metrics()
    now = {"pool_size": 8, "in_use": 3, "waiting": 2, "exhausted": 5}
    metrics.track_upstream(lambda: now)
    assert _value(metrics, "upstream_pool_in_use") == 3
    assert _value(metrics, "upstream_pool_waiting") == 2
    assert _value(metrics, "upstream_pool_size") == 8
    assert _value(metrics, "upstream_pool_exhausted_total") == 5


async def test_upstream_attempts_are_timed() -> None:
    async with running_simulator(SimConfig()) as url:
        client = CrunchyrollClient(ClientSettings.from_config(Config(upstream_url=url)))
        await client.start()
        try:
            metrics = Metrics()
            before = _value(metrics, "upstream_request_duration_seconds_count", method="POST")
            await client.password_grant("demo@kensho.dev", "kensho-demo")
            after = _value(metrics, "upstream_request_duration_seconds_count", method="POST")
            assert after == before + 1
        finally:
            await client.close()
