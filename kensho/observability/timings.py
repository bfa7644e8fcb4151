"""Timings of async calls, kept process-wide and timed with `prometheus-async`.

The query helpers, the upstream transport, actor asks and search are module-level or shared by
every app in a process, so their histograms are too: one set per process, rendered by every
app's /metrics (`Metrics` registers `collect`). `prometheus_async.aio.time` observes an
awaitable's duration whether it returns or raises, without a wrapper coroutine of ours.

`event_loop_lag_seconds` is fed by the loop monitor's ticker (four ticks a second).
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

from prometheus_async.aio import time as async_time
from prometheus_client import Histogram
from prometheus_client.core import Metric

__all__ = [
    "ACTOR_ASK",
    "DB_QUERY",
    "LOOP_LAG",
    "SEARCH",
    "UPSTREAM",
    "collect",
    "timed",
]

T = TypeVar("T")

_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

#: one upstream attempt on the wire (pool slot wait excluded), by HTTP method
UPSTREAM = Histogram(
    "upstream_request_duration_seconds",
    "Crunchyroll API attempts: time on the wire (request and whole body), by method",
    ["method"],
    buckets=_FAST,
    registry=None,
)
#: an ask from the event loop to an actor, reply included (mailbox wait + handling)
ACTOR_ASK = Histogram(
    "actor_ask_duration_seconds",
    "Actor asks from the event loop until the reply, by actor",
    ["actor"],
    buckets=_FAST,
    registry=None,
)
#: one query helper call (`kensho.store.pool`): acquire, execute, fetch
DB_QUERY = Histogram(
    "db_query_duration_seconds",
    "PostgreSQL query helper calls, pool acquire included, by helper",
    ["helper"],
    buckets=_FAST,
    registry=None,
)
#: one search, by how it was answered (its _count by answer is the cached share)
SEARCH = Histogram(
    "search_duration_seconds",
    "Searches by answer: cached (a cached page) or ranked (ranked on a ranking thread)",
    ["answer"],
    buckets=_FAST,
    registry=None,
)
#: how late the loop monitor's ticker woke: time the event loop was busy elsewhere
LOOP_LAG = Histogram(
    "event_loop_lag_seconds",
    "Event-loop lag: how late a 250 ms ticker wakes up",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=None,
)
_ALL = (UPSTREAM, ACTOR_ASK, DB_QUERY, SEARCH, LOOP_LAG)


def timed(metric: Any, awaitable: Awaitable[T]) -> Awaitable[T]:
    """`awaitable`, its duration observed in `metric` (a histogram child) when it finishes."""
    return async_time(metric, awaitable)


def collect() -> Iterable[Metric]:
    """Every family above, for an app registry's collector."""
    for metric in _ALL:
        yield from metric.collect()
