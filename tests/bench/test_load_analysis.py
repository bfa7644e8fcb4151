"""The chaos run's analysis (`bench.load.analysis`): failures classified by fault windows,
percentiles, recovery time, counter deltas across a replica restart (no servers)."""

from __future__ import annotations

from typing import Any

from bench.load.analysis import (
    Window,
    breaker_states,
    cache_hit_ratio,
    classify,
    percentile,
    phase_stats,
    recovery_time,
)


def _event(
    t: float,
    status: int = 200,
    *,
    ok: bool | None = None,
    problem: str = "",
    name: str = "/api/anime/{id}",
    ms: float = 10.0,
) -> dict[str, Any]:
    return {
        "t": t,
        "ms": ms,
        "method": "GET",
        "name": name,
        "status": status,
        "ok": status < 400 if ok is None else ok,
        "problem": problem,
        "user": "Viewer",
        "client": "10.0.0.1",
    }


UPSTREAM = Window("upstream-outage", "upstream", start=100.0, end=120.0, until=130.0)


def test_a_documented_answer_inside_its_window_is_documented() -> None:
    assert classify(_event(110, 503, problem="circuit-open"), [UPSTREAM]) == "documented"
    assert classify(_event(128, 503, problem="circuit-open"), [UPSTREAM]) == "documented"


def test_the_same_answer_outside_every_window_is_unexpected() -> None:
    assert classify(_event(131, 503, problem="circuit-open"), [UPSTREAM]) == "unexpected"
    assert classify(_event(99, 503, problem="circuit-open"), [UPSTREAM]) == "unexpected"


def test_a_request_started_just_before_the_injection_can_fail_because_of_it() -> None:
    # started 0.2 s before the fault, answered 0.4 s into it
    assert classify(_event(99.8, 503, problem="upstream-unavailable", ms=600), [UPSTREAM]) == (
        "documented"
    )
    # over before the fault began: nothing to do with it
    assert classify(_event(99.0, 503, problem="upstream-unavailable", ms=500), [UPSTREAM]) == (
        "unexpected"
    )


def test_an_undocumented_answer_inside_a_window_is_unexpected() -> None:
    assert classify(_event(110, 500, problem="internal"), [UPSTREAM]) == "unexpected"
    # a balancer's own 503 page is no problem+json: nobody documented it
    assert classify(_event(110, 503, problem=""), [UPSTREAM]) == "unexpected"


def test_no_answer_is_always_unexpected() -> None:
    assert classify(_event(110, 0, ok=False), [UPSTREAM]) == "unexpected"


def test_a_redis_or_rolling_window_documents_no_failure() -> None:
    redis = Window("redis", "redis", 100.0, 120.0, 130.0)
    rolling = Window("rolling", "rolling", 100.0, 120.0, 130.0)
    for window in (redis, rolling):
        assert classify(_event(110, 503, problem="unavailable"), [window]) == "unexpected"


def test_a_success_marked_by_the_user_class_is_ok() -> None:
    # the abusive client's 429 and a stream-limit 429 are marked successes by the locustfile
    assert classify(_event(50, 429, ok=True), []) == "ok"


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 99) == 99.0
    assert percentile([], 95) == 0.0


def test_phase_stats_separate_abuse_and_count_kinds() -> None:
    events = [_event(10 + i * 0.1) for i in range(90)]
    events += [
        _event(105, 503, problem="circuit-open"),
        _event(106, 500, problem="internal"),
        _event(107, 0, ok=False),
    ]
    events += [_event(108, 429, ok=True, name="[abuse] /api/search/suggest") for _ in range(5)]
    events.append(_event(109, 0, ok=True, name="[client-retry]") | {"retry": True})
    stats = phase_stats(events, 0.0, 200.0, [UPSTREAM])
    assert stats["requests"] == 93
    assert (stats["documented"], stats["unexpected"], stats["unanswered"]) == (1, 2, 1)
    assert stats["abuse_requests"] == stats["abuse_429"] == 5
    assert stats["http_429"] == 0
    assert stats["client_retries"] == 1  # counted on its own, neither a request nor a failure
    assert stats["failures_by_status"] == {"503": 1, "500": 1, "0": 1}
    assert stats["endpoints"]["GET /api/anime/{id}"]["requests"] == 93


def test_recovery_is_the_last_failure_before_a_quiet_stretch() -> None:
    events = [_event(120 + i * 0.5) for i in range(40)]
    events += [_event(121, 503, problem="circuit-open"), _event(123, 503, problem="circuit-open")]
    assert recovery_time(events, 120.0, 140.0) == 3.0


def test_no_failure_after_the_fault_is_zero_and_never_quiet_is_none() -> None:
    assert recovery_time([_event(120 + i) for i in range(10)], 120.0, 140.0) == 0.0
    failing = [_event(120 + i, 503, problem="circuit-open") for i in range(20)]
    assert recovery_time(failing, 120.0, 140.0) is None


def test_cache_ratio_counts_a_restarted_replicas_counters_from_zero() -> None:
    scrapes = [
        {"t": 0.0, "replica": "a", "up": True, "cache": {"l1": 100.0, "miss": 100.0}},
        {"t": 1.0, "replica": "a", "up": True, "cache": {"l1": 190.0, "miss": 110.0}},
        {"t": 2.0, "replica": "a", "up": False},
        # restarted: the counters start again; its 30 lookups count, not -160
        {"t": 3.0, "replica": "a", "up": True, "cache": {"l1": 20.0, "miss": 10.0}},
    ]
    assert cache_hit_ratio(scrapes, 0.0, 10.0) == round((90 + 20) / (100 + 30), 3)
    assert cache_hit_ratio(scrapes[:1], 0.0, 10.0) is None


def test_breaker_states_in_order_of_first_sight() -> None:
    scrapes = [
        {"t": float(i), "replica": "a", "breaker": s}
        for i, s in enumerate(["closed", "open", "half_open", "open", "closed"])
    ]
    assert breaker_states(scrapes, 0.0, 10.0) == ["closed", "open", "half_open"]
