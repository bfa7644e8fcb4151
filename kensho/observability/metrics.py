"""Prometheus metrics with a per-app registry, so two apps (or tests) never share series.

Route labels are route templates (`/admin/actors/{name}`), never raw paths: a raw path is
client-controlled and would let anyone create unbounded series. Actor series are collected at
scrape time from the supervisor snapshot, so they cost nothing between scrapes.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Gauge,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from kensho.observability import timings
from kensho.observability._private import db_pool_waiting

__all__ = ["CONTENT_TYPE_LATEST", "UNMATCHED_ROUTE", "Metrics", "iter_actor_stats"]

UNMATCHED_ROUTE = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

SnapshotFn = Callable[[], Mapping[str, Any] | None]


def iter_actor_stats(node: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Yield (actor name, stats) for every actor (leaf) in a supervisor snapshot tree."""
    children = node.get("children")
    if isinstance(children, list) and children:
        for child in children:
            if isinstance(child, Mapping):
                yield from iter_actor_stats(child)
        return
    if children is None and "name" in node:
        stats = node.get("stats")
        yield str(node["name"]), stats if isinstance(stats, Mapping) else node


class _ActorCollector(Collector):
    def __init__(self, snapshot: SnapshotFn) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        depth = GaugeMetricFamily("actor_mailbox_depth", "Messages waiting", labels=["actor"])
        done = CounterMetricFamily("actor_messages_processed", "Messages handled", labels=["actor"])
        failed = CounterMetricFamily(
            "actor_messages_failed", "Messages that raised", labels=["actor"]
        )
        view_reads = CounterMetricFamily(
            "actor_view_reads",
            "Reads of the actor's published view by handlers (hot reads, no message)",
            labels=["actor"],
        )
        restarts = CounterMetricFamily(
            "actor_restarts", "Restarts by the supervisor", labels=["actor"]
        )
        tree = self._snapshot()
        for name, stats in iter_actor_stats(tree) if tree else ():
            depth.add_metric(
                [name], float(stats.get("mailbox", stats.get("mailbox_depth", 0)) or 0)
            )
            done.add_metric([name], float(stats.get("processed", 0) or 0))
            failed.add_metric([name], float(stats.get("failed", 0) or 0))
            view_reads.add_metric([name], float(stats.get("view_reads", 0) or 0))
            restarts.add_metric([name], float(stats.get("restarts", 0) or 0))
        return [depth, done, failed, view_reads, restarts]


class _ReadinessCollector(Collector):
    """readiness_ready, readiness_check_ok{check,required}, readiness_transitions_total.

    Read from the latest readiness evaluation (probes run every few seconds in every
    deployment), so a scrape never runs a check itself.
    """

    def __init__(
        self,
        ready: Callable[[], bool | None],
        checks: Callable[[], Iterable[tuple[str, bool, bool]]],
        transitions: Callable[[], int],
    ) -> None:
        self._ready, self._checks, self._transitions = ready, checks, transitions

    def collect(self) -> Iterable[Metric]:
        ready = GaugeMetricFamily(
            "readiness_ready", "1 when the last /health/ready evaluation was ready (not draining)"
        )
        checks = GaugeMetricFamily(
            "readiness_check_ok",
            "1 when a readiness check passed at the last evaluation",
            labels=["check", "required"],
        )
        transitions = CounterMetricFamily(
            "readiness_transitions", "Flips between ready and not ready across evaluations"
        )
        state = self._ready()
        if state is not None:
            ready.add_metric([], 1.0 if state else 0.0)
        for name, required, ok in self._checks():
            checks.add_metric([name, "true" if required else "false"], 1.0 if ok else 0.0)
        transitions.add_metric([], float(self._transitions()))
        return [ready, checks, transitions]


class _FnCollector(Collector):
    """Adapts a function yielding metric families to a registry collector."""

    def __init__(self, fn: Callable[[], Iterable[Metric]]) -> None:
        self._fn = fn

    def collect(self) -> Iterable[Metric]:
        return self._fn()


class _RequestHistogram(Collector):
    """`request_duration_seconds`, kept as plain per-series lists and rendered at scrape time.

    prometheus_client's `Histogram.observe` takes a lock for the sum and again for the bucket
    (2.3 µs a request on the bench machine); requests are observed on the event loop thread
    only, so a list increment is enough (0.3 µs). A scrape from another thread may see one
    observation half-applied, as Prometheus tolerates between scrapes anyway.
    """

    def __init__(self) -> None:
        self._series: dict[tuple[str, str, int], list[float]] = {}
        self._bounds = _BUCKETS
        self._les = [
            *(repr(float(b)) for b in _BUCKETS),
            "+Inf",
        ]  # as prometheus_client spells them

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Hot path: one request's duration under its route template, method and status."""
        if method not in _METHODS:
            method = "OTHER"  # client-controlled: keep the label set bounded
        key = (route, method, status)
        series = self._series.get(key)
        if series is None:  # [bucket 0, ..., +Inf bucket, sum]: per bucket, not cumulative
            series = self._series[key] = [0.0] * (len(self._bounds) + 2)
        series[bisect_left(self._bounds, seconds)] += 1
        series[-1] += seconds

    def collect(self) -> Iterable[Metric]:
        family = HistogramMetricFamily(
            "request_duration_seconds",
            "HTTP request duration by route template, method and status",
            labels=["route", "method", "status"],
        )
        for (route, method, status), series in list(self._series.items()):
            values = list(series)
            buckets, total = [], 0.0
            for le, count in zip(self._les, values[:-1], strict=True):
                total += count
                buckets.append((le, total))
            family.add_metric([route, method, str(status)], buckets, values[-1])
        yield family

    def describe(self) -> Iterable[Metric]:
        yield HistogramMetricFamily(
            "request_duration_seconds",
            "HTTP request duration by route template, method and status",
            labels=["route", "method", "status"],
        )


class Metrics:
    """The app's metric families; `observe_request` is on the hot path and caches children."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.request_duration = _RequestHistogram()
        #: Hot path, one call a request: record a duration (route template, method, status).
        self.observe_request = self.request_duration.observe
        self.registry.register(self.request_duration)
        self.active_connections = Gauge(
            "active_connections", "Open client connections", registry=self.registry
        )
        self.in_flight = Gauge(
            "requests_in_flight", "Requests being handled", registry=self.registry
        )
        self._cache_lookups: Mapping[str, int] = {}
        self.registry.register(_FnCollector(self._cache_series))
        # CPU, RSS, open fds (process_*), collections (python_gc_*), the interpreter's version
        ProcessCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        # Process-wide timings (upstream, actor asks, queries, search, loop lag)
        self.registry.register(_FnCollector(timings.collect))

    def track_in_flight(self, count: Callable[[], int]) -> None:
        """Report `count()` as requests_in_flight at scrape time."""
        self.in_flight.set_function(lambda: float(count()))

    def track_connections(self, count: Callable[[], int]) -> None:
        """Report `count()` as active_connections at scrape time."""
        self.active_connections.set_function(lambda: float(count()))

    def track_actors(self, snapshot: SnapshotFn) -> None:
        """Collect per-actor series from `snapshot()` at scrape time."""
        self.registry.register(_ActorCollector(snapshot))

    def track_readiness(
        self,
        ready: Callable[[], bool | None],
        checks: Callable[[], Iterable[tuple[str, bool, bool]]],
        transitions: Callable[[], int],
    ) -> None:
        """Report the latest readiness evaluation at scrape time: `ready()` (None before the
        first probe), `checks()` as (name, required, ok), `transitions()` so far."""
        self.registry.register(_ReadinessCollector(ready, checks, transitions))

    def track_cache(self, lookups: Mapping[str, int]) -> None:
        """Report `lookups` (tier -> count, kept by the cache service) at scrape time.

        The service counts each lookup in a plain dict on the event loop; a per-lookup hook
        into a prometheus Counter (which takes a lock) cost more than the L1 hit it counted.
        """
        self._cache_lookups = lookups

    def track_db_pool(self, pool: Any) -> None:
        """Report an aiopg pool's connections (in use, idle), bound and waiting acquirers."""

        def series() -> Iterable[Metric]:
            size, free = int(pool.size), int(pool.freesize)
            conns = GaugeMetricFamily(
                "db_pool_connections", "PostgreSQL pool connections by state", labels=["state"]
            )
            conns.add_metric(["in_use"], float(size - free))
            conns.add_metric(["idle"], float(free))
            yield conns
            yield GaugeMetricFamily("db_pool_max", "PostgreSQL pool bound", value=pool.maxsize)
            yield GaugeMetricFamily(
                "db_pool_waiting",
                "Acquirers waiting for a PostgreSQL connection",
                db_pool_waiting(pool),  # aiopg has no public count
            )

        self.registry.register(_FnCollector(series))

    def track_upstream(self, stats: Callable[[], Mapping[str, int]]) -> None:
        """Report the upstream client's pool (`CrunchyrollClient.stats()`) at scrape time."""

        def series() -> Iterable[Metric]:
            now = stats()
            yield GaugeMetricFamily(
                "upstream_pool_in_use", "Upstream connections in use", now.get("in_use", 0)
            )
            yield GaugeMetricFamily(
                "upstream_pool_waiting",
                "Calls waiting for an upstream connection",
                now.get("waiting", 0),
            )
            yield GaugeMetricFamily(
                "upstream_pool_size", "Upstream connection bound", now.get("pool_size", 0)
            )
            yield CounterMetricFamily(
                "upstream_pool_exhausted",
                "Calls refused because every upstream connection stayed busy",
                now.get("exhausted", 0),
            )

        self.registry.register(_FnCollector(series))

    def _cache_series(self) -> Iterable[Metric]:
        counts = dict(self._cache_lookups)
        total = sum(counts.values())
        lookups = CounterMetricFamily(
            "cache_lookups", "Cache lookups by answering tier", labels=["tier"]
        )
        ratio = GaugeMetricFamily(
            "cache_hit_ratio", "Share of cache lookups answered by each tier", labels=["tier"]
        )
        for tier, count in sorted(counts.items()):
            lookups.add_metric([tier], float(count))
            ratio.add_metric([tier], count / total if total else 0.0)
        yield lookups
        yield ratio

    def track_rate_limit(self, stats: Callable[[], Mapping[str, Any]]) -> None:
        """Report the rate limiter's `stats()` at scrape time (the limiter counts in plain
        dicts on the event loop, as the cache does)."""
        self.registry.register(_FnCollector(lambda: _rate_limit_series(stats())))

    def track_login_limiter(self, stats: Callable[[], Mapping[str, Any]]) -> None:
        """Report the login limiter's `stats()` (its per-replica fallback) at scrape time."""
        self.registry.register(_FnCollector(lambda: _login_limiter_series(stats())))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _fallback_series(
    name: str, active_help: str, switches_help: str, stats: Mapping[str, Any]
) -> list[Metric]:
    """`<name>_fallback_active` (0/1) and `<name>_fallbacks_total` from a limiter's `stats()`:
    the one shape of every Redis-backed limiter's per-replica fallback."""
    active = GaugeMetricFamily(f"{name}_fallback_active", active_help)
    active.add_metric([], 1.0 if stats.get("fallback_active") else 0.0)
    fallbacks = CounterMetricFamily(f"{name}_fallbacks", switches_help)
    fallbacks.add_metric([], float(stats.get("fallbacks", 0)))
    return [active, fallbacks]


def _login_limiter_series(stats: Mapping[str, Any]) -> Iterable[Metric]:
    return _fallback_series(
        "login_limiter",
        "1 while Redis is unreachable and this replica counts failed logins on its own",
        "Switches of the login limiter to its per-replica table",
        stats,
    )


def _rate_limit_series(stats: Mapping[str, Any]) -> Iterable[Metric]:
    active, fallbacks = _fallback_series(
        "rate_limit",
        "1 while Redis is unreachable and this replica enforces rate limits on its own",
        "Switches of the rate limiter to its per-replica fallback",
        stats,
    )
    decisions = CounterMetricFamily(
        "rate_limit_decisions",
        "Rate-limited requests by policy and decision (allowed, limited)",
        labels=["policy", "decision"],
    )
    for decision in ("allowed", "limited"):
        for policy, count in sorted(stats.get(decision, {}).items()):
            decisions.add_metric([policy, decision], float(count))
    takes = CounterMetricFamily(
        "rate_limit_takes", "Quota takes (lease refills) by store (redis, local)", labels=["store"]
    )
    for store, count in sorted(stats.get("takes", {}).items()):
        takes.add_metric([store], float(count))
    counts = stats.get("optimistic", {})
    admitted = CounterMetricFamily(
        "rate_limit_optimistic_admissions",
        "Requests of quiet clients admitted before Redis answered their take",
    )
    admitted.add_metric([], float(counts.get("admitted", 0)))
    over = CounterMetricFamily(
        "rate_limit_optimistic_over",
        "Optimistic admissions whose take found the quota empty (the documented overshoot)",
    )
    over.add_metric([], float(counts.get("over", 0)))
    return [active, fallbacks, decisions, takes, admitted, over]
