"""Timings of async calls, kept process-wide and timed with `prometheus-async`.

The query helpers, the upstream transport, actor asks and search are module-level or shared by
every app in a process, so their histograms are too: one set per process, rendered by every
app's /metrics (`Metrics` registers `collect`). `prometheus_async.aio.time` observes an
awaitable's duration whether it returns or raises, without a wrapper coroutine of ours.

`event_loop_lag_seconds` is fed by the loop monitor's ticker (four ticks a second).

`search_memo_answers_total` counts the searches the route answers from its request-target memo
(issue 19's fast path) without calling the search service: a plain integer, rendered at scrape
time, because that path is the one whose microseconds are budgeted (see `SearchAnswers`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

from prometheus_async.aio import time as async_time
from prometheus_client import Histogram
from prometheus_client.core import CounterMetricFamily, Metric

__all__ = [
    "ACTOR_ASK",
    "DB_QUERY",
    "LOOP_LAG",
    "SEARCH",
    "SEARCH_MEMO",
    "UPSTREAM",
    "SearchAnswers",
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
#: one search through the service, by how it was answered: cached (a cached page) or ranked;
#: the memo's answers, which never reach the service, are `SEARCH_MEMO`
SEARCH = Histogram(
    "search_duration_seconds",
    "Searches through the search service by answer: cached (a cached page) or ranked "
    "(ranked in its turn); answers from the request-target memo are search_memo_answers_total",
    ["answer"],
    buckets=_FAST,
    registry=None,
)


class SearchAnswers:
    """Searches answered from the route's request-target memo (a target seen before, its page
    in L1), counted rather than timed.

    That path is synchronous (no await), so every duration would land in the histogram's
    first bucket (0.5 ms): a histogram would carry nothing the count does not, at a cost the
    path cannot afford. Measured in-process (`SearchService.cached` on a hit, timeit, best of
    15 interleaved rounds, 2-core machine under load, 3 runs): the path took 1.0-2.0 us
    without counting; with this counter the same within noise (+0.0-0.4 us; the increment
    alone is 35 ns); with `SEARCH.labels("memo").observe()` and its two clock reads, 6.9-10.0
    us, i.e. +6-8 us on a cached search whose whole server CPU is ~72 us against a bare
    handler's 50 us (docs/benchmarks.md, issue 19: the ratio must stay >= 0.50). A
    prometheus `Counter.inc()` (locked) alone is 1.5 us. Incremented on the event loop only.
    """

    __slots__ = ("memo",)

    def __init__(self) -> None:
        self.memo = 0

    def collect(self) -> Iterable[Metric]:
        yield CounterMetricFamily(
            "search_memo_answers",
            "Searches answered from the request-target memo, before the search service "
            "(not timed: synchronous, microseconds); add search_duration_seconds_count for all",
            value=self.memo,
        )


#: the memo's answers, process-wide as the histograms are
SEARCH_MEMO = SearchAnswers()
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
    yield from SEARCH_MEMO.collect()
