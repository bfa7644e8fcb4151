"""From request events, fault windows and metric scrapes to the numbers of the report.

A failure is *documented* when the request overlaps a fault's window (from the injection until
the service recovered) and is an answer the fault's documentation promises: a problem+json
503/504 (circuit open, upstream unavailable, timeout) or 502 (upstream error) while the
upstream is faulty, a 503 problem while an actor restarts. Every other failure is
*unexpected*, and so is any request left without an answer (status 0) and any failure
outside every window.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "Window",
    "breaker_states",
    "cache_hit_ratio",
    "classify",
    "percentile",
    "phase_stats",
    "recovery_time",
    "summarise",
]

#: problem types each kind of fault may legitimately cause (docs/errors.md, docs/auth.md)
DOCUMENTED: dict[str, frozenset[str]] = {
    "upstream": frozenset(
        {
            "circuit-open",
            "unavailable",
            "upstream",
            "upstream-unavailable",
            "timeout",
            "actor-timeout",
        }
    ),
    "actors": frozenset(
        {
            "actor",
            "actor-unavailable",
            "actor-stopped",
            "mailbox-full",
            "actor-timeout",
            "unavailable",
        }
    ),
    "redis": frozenset(),  # Redis is optional at run time: no request may fail for it
    "postgres": frozenset({"unavailable"}),
    "rolling": frozenset(),  # zero failed requests is the criterion
}


@dataclass
class Window:
    """One injected fault: `start` to `end` (removed), `until` = recovered (or phase end)."""

    name: str
    kind: str
    start: float
    end: float
    until: float
    detail: dict[str, Any] = field(default_factory=dict)

    def covers(self, t: float, seconds: float = 0.0) -> bool:
        """Whether a request from `t` lasting `seconds` overlaps the window: one started just
        before the injection can still fail because of it."""
        return t <= self.until and t + seconds >= self.start


def is_failure(event: dict[str, Any]) -> bool:
    return not event.get("ok", True) or int(event.get("status", 0)) == 0


def classify(event: dict[str, Any], windows: Sequence[Window]) -> str:
    """ "ok", "documented" or "unexpected" (see the module docstring)."""
    if not is_failure(event):
        return "ok"
    status = int(event.get("status", 0))
    if status == 0:
        return "unexpected"
    problem = str(event.get("problem", ""))
    for window in windows:
        lasted = float(event.get("ms", 0)) / 1000
        if window.covers(float(event["t"]), lasted) and problem in DOCUMENTED.get(window.kind, ()):
            return "documented"
    return "unexpected"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted `values` (0 when empty)."""
    if not values:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(values)))
    return float(values[min(rank, len(values)) - 1])


def phase_stats(
    events: Iterable[dict[str, Any]], start: float, end: float, windows: Sequence[Window]
) -> dict[str, Any]:
    """Requests, error rate (unexpected and documented), 429s and latency per endpoint in
    [start, end). Abusive bursts are left out of the latencies and error rate (their 429s are
    the point) and counted on their own."""
    inside = [e for e in events if start <= float(e["t"]) < end]
    normal = [e for e in inside if not str(e["name"]).startswith("[")]
    abuse = [e for e in inside if str(e["name"]).startswith("[abuse]")]
    kinds = Counter(classify(e, windows) for e in normal)
    by_name: dict[str, list[float]] = defaultdict(list)
    for e in normal:
        by_name[f"{e['method']} {e['name']}"].append(float(e["ms"]))
    endpoints = {}
    for name, values in sorted(by_name.items()):
        values.sort()
        endpoints[name] = {
            "requests": len(values),
            "p50_ms": round(percentile(values, 50), 1),
            "p95_ms": round(percentile(values, 95), 1),
            "p99_ms": round(percentile(values, 99), 1),
        }
    statuses = Counter(str(e["status"]) for e in normal if is_failure(e))
    total = len(normal)
    return {
        "seconds": round(end - start, 1),
        "requests": total,
        "rps": round(total / (end - start), 1) if end > start else 0.0,
        "failed": kinds["documented"] + kinds["unexpected"],
        "documented": kinds["documented"],
        "unexpected": kinds["unexpected"],
        "unanswered": sum(1 for e in normal if int(e["status"]) == 0),
        "error_rate": round((kinds["documented"] + kinds["unexpected"]) / total, 4) if total else 0,
        "unexpected_rate": round(kinds["unexpected"] / total, 4) if total else 0.0,
        "failures_by_status": dict(statuses),
        "http_429": sum(1 for e in normal if int(e["status"]) == 429),
        "abuse_requests": len(abuse),
        "abuse_429": sum(1 for e in abuse if int(e["status"]) == 429),
        "client_retries": sum(1 for e in inside if e.get("retry")),
        "endpoints": endpoints,
    }


def recovery_time(
    events: Sequence[dict[str, Any]], fault_end: float, horizon: float, quiet: float = 5.0
) -> float | None:
    """Seconds from `fault_end` to the last failure before `horizon` (0 when nothing failed
    after the end); None when failures go on until less than `quiet` seconds before `horizon`
    (not recovered within the window). The last failure, not the first calm: a breaker probing
    half-open can fail again after a few quiet seconds."""
    failures = [
        float(e["t"])
        for e in events
        if fault_end <= float(e["t"]) < horizon
        and not str(e["name"]).startswith("[")
        and is_failure(e)
    ]
    if not failures:
        return 0.0
    last = max(failures)
    return round(last - fault_end, 1) if horizon - last >= quiet else None


def _deltas(records: Sequence[dict[str, Any]], key: str) -> dict[str, dict[str, float]]:
    """Per replica, the growth of a counter family in `records` (a reset counts from zero)."""
    growth: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    last: dict[str, dict[str, float]] = {}
    for record in records:
        if not record.get("up"):
            continue
        current = record.get(key) or {}
        previous = last.get(record["replica"])
        if previous is not None:
            for label, value in current.items():
                before = previous.get(label, 0.0)
                growth[record["replica"]][label] += value - before if value >= before else value
        last[record["replica"]] = current
    return growth


def cache_hit_ratio(records: Sequence[dict[str, Any]], start: float, end: float) -> float | None:
    """Share of cache lookups in [start, end) answered by L1 or L2, over every replica."""
    inside = [r for r in records if start <= r["t"] < end]
    tiers: Counter[str] = Counter()
    for per_replica in _deltas(inside, "cache").values():
        for tier, count in per_replica.items():
            tiers[tier] += int(count)
    total = sum(tiers.values())
    return round((tiers["l1"] + tiers["l2"]) / total, 3) if total else None


def status_counts(records: Sequence[dict[str, Any]], start: float, end: float) -> dict[str, int]:
    """Answers by status in [start, end) from the servers' own histograms, every replica."""
    inside = [r for r in records if start <= r["t"] < end]
    out: Counter[str] = Counter()
    for per_replica in _deltas(inside, "statuses").values():
        for status, count in per_replica.items():
            out[status] += int(count)
    return dict(out)


def breaker_states(records: Sequence[dict[str, Any]], start: float, end: float) -> list[str]:
    """Every breaker state a replica reported in [start, end), in order of first sight."""
    seen: list[str] = []
    for r in records:
        if start <= r["t"] < end and r.get("breaker") and r["breaker"] not in seen:
            seen.append(r["breaker"])
    return seen


def summarise(
    events: list[dict[str, Any]],
    windows: list[Window],
    scrapes: list[dict[str, Any]],
    load_start: float,
    baseline_end: float,
    load_end: float,
    *,
    warmup: float = 15.0,
) -> dict[str, Any]:
    """Phases (baseline, then one per fault: from its injection to the next one's), the whole
    run and the rate limit's outcomes per client, from a run's raw data. Pure: the report
    recomputes it from the committed data, so a better analysis redraws an old run."""
    for i, window in enumerate(windows):
        horizon = windows[i + 1].start if i + 1 < len(windows) else load_end
        recovered = recovery_time(events, window.end, horizon)
        window.detail["recovery_s"] = recovered
        window.until = window.end + recovered if recovered is not None else horizon
    spans: list[tuple[str, str, float, float, Window | None]] = [
        ("baseline", "none", load_start + warmup, baseline_end, None)
    ] + [
        (w.name, w.kind, w.start, (windows[i + 1].start if i + 1 < len(windows) else load_end), w)
        for i, w in enumerate(windows)
    ]
    phases = []
    for name, kind, start, end, window in spans:
        stats = phase_stats(events, start, end, windows)
        stats |= {
            "name": name,
            "kind": kind,
            "start": round(start, 3),
            "end": round(end, 3),
            "fault_end": round(window.end, 3) if window else None,
            "recovery_s": window.detail.get("recovery_s") if window else 0.0,
            "breaker": breaker_states(scrapes, start, end),
            "cache_hit_ratio": cache_hit_ratio(scrapes, start, end),
            "server_statuses": status_counts(scrapes, start, end),
        }
        phases.append(stats)
    whole = phase_stats(events, load_start, load_end + 60, windows)
    clients: dict[str, dict[str, int]] = {}
    for e in events:  # the abusive clients' bursts, and anyone else the rate limit refused
        if str(e["name"]).startswith("[abuse]") or e.get("problem") == "rate-limited":
            c = clients.setdefault(
                f"{e['user']} {e['client']}", {"admitted": 0, "limited": 0, "other": 0}
            )
            key = "limited" if e["status"] == 429 else "admitted" if e["ok"] else "other"
            c[key] += 1
    return {
        "windows": [asdict(w) for w in windows],
        "phases": phases,
        "total": {k: v for k, v in whole.items() if k != "endpoints"},
        "rate_limit_by_client": clients,
    }
