"""CircuitBreaker logic: every transition, both windows, slow calls, open wait, overrides."""

from __future__ import annotations

import pytest

from kensho.errors import CircuitOpen
from kensho.upstream.breaker import (
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    Outcome,
    Transition,
)

S, F, IGN = Outcome.SUCCESS, Outcome.FAILURE, Outcome.IGNORED


def make(**kw: object) -> tuple[CircuitBreaker, list[Transition]]:
    seen: list[Transition] = []
    base: dict[str, object] = {
        "window_size": 4,
        "minimum_calls": 4,
        "failure_rate_threshold": 50.0,
        "wait_in_open": 10.0,
        "permitted_calls_in_half_open": 2,
        "max_wait_in_half_open": 0.0,
    }
    base.update(kw)
    return CircuitBreaker(BreakerConfig(**base), listener=seen.append), seen  # type: ignore[arg-type]


def call(b: CircuitBreaker, outcome: Outcome, now: float, duration: float = 0.01) -> None:
    b.record(b.acquire(now), outcome, duration, now)


def trip(b: CircuitBreaker, now: float) -> None:
    for _ in range(4):
        call(b, F, now)


def test_stays_closed_below_minimum_calls() -> None:
    b, seen = make()
    for _ in range(3):
        call(b, F, 0.0)
    assert b.state(0.0) is BreakerState.CLOSED
    assert b.snapshot(0.0).failure_rate == -1.0
    assert seen == []


def test_opens_at_failure_rate_threshold_and_rejects() -> None:
    b, seen = make()
    for o in (S, S, F, F):
        call(b, o, 1.0)
    assert b.state(1.0) is BreakerState.OPEN
    assert [(t.from_state, t.to_state) for t in seen] == [(BreakerState.CLOSED, BreakerState.OPEN)]
    assert b.try_acquire(2.0) is None
    with pytest.raises(CircuitOpen) as info:
        b.acquire(3.0)
    assert info.value.retry_after == pytest.approx(8.0)
    assert info.value.headers["Retry-After"] == "8"
    assert b.snapshot(3.0).calls["rejected"] == 2


def test_below_threshold_stays_closed() -> None:
    b, _ = make()
    for o in (S, S, S, F, S, S, S, F):
        call(b, o, 1.0)
    assert b.state(1.0) is BreakerState.CLOSED
    assert b.snapshot(1.0).failure_rate == 25.0


def test_count_window_forgets_old_calls() -> None:
    b, _ = make(failure_rate_threshold=75.0)
    for o in (F, F, S, S, S, S):  # the two failures slide out of the 4-call window
        call(b, o, 1.0)
    snap = b.snapshot(1.0)
    assert snap.buffered_calls == 4
    assert snap.failure_rate == 0.0


def test_time_window_expires_old_seconds() -> None:
    b, _ = make(window_type="time", window_size=10, minimum_calls=3)
    call(b, F, 100.0)
    call(b, F, 101.0)
    # 12 s later both failures left the 10-second window: two successes do not trip it
    call(b, S, 112.0)
    call(b, S, 112.5)
    assert b.snapshot(112.5).buffered_calls == 2
    call(b, F, 113.0)
    assert b.state(113.0) is BreakerState.CLOSED
    call(b, F, 113.2)
    assert b.state(113.2) is BreakerState.OPEN  # 2 failures of 4 within the window


def test_slow_calls_open_the_circuit() -> None:
    b, seen = make(slow_call_duration=1.0, slow_call_rate_threshold=50.0)
    for d in (0.1, 0.1, 1.5, 2.0):
        call(b, S, 1.0, duration=d)
    assert b.state(1.0) is BreakerState.OPEN
    assert "slow-call rate" in seen[-1].reason
    assert b.snapshot(1.0).calls["slow"] == 2


def test_open_to_half_open_to_closed_resets_wait() -> None:
    b, seen = make()
    trip(b, 0.0)
    assert b.state(9.99) is BreakerState.OPEN
    assert b.state(10.0) is BreakerState.HALF_OPEN
    p1, p2 = b.acquire(10.0), b.acquire(10.0)
    assert b.try_acquire(10.0) is None  # only two probes
    b.record(p1, S, 0.1, 10.1)
    assert b.state(10.1) is BreakerState.HALF_OPEN
    b.record(p2, S, 0.1, 10.2)
    assert b.state(10.2) is BreakerState.CLOSED
    assert [t.to_state for t in seen] == [
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.CLOSED,
    ]
    assert b.snapshot(10.2).open_wait == 10.0


def test_open_wait_grows_while_upstream_stays_down_and_resets_on_close() -> None:
    b, _ = make(wait_multiplier=2.0, max_wait_in_open=35.0)
    trip(b, 0.0)
    now = 0.0
    waits = []
    for _ in range(4):
        now += b.snapshot(now).open_wait
        assert b.state(now) is BreakerState.HALF_OPEN
        call(b, F, now)
        call(b, F, now)
        assert b.state(now) is BreakerState.OPEN
        waits.append(b.retry_after(now))
    assert waits == [20.0, 35.0, 35.0, 35.0]  # doubled, then capped
    now += 35.0
    call(b, S, now)
    call(b, S, now)
    assert b.state(now) is BreakerState.CLOSED
    trip(b, now)
    assert b.retry_after(now) == 10.0


def test_ignored_outcome_returns_half_open_permit() -> None:
    b, _ = make()
    trip(b, 0.0)
    p1 = b.acquire(10.0)
    b.acquire(10.0)
    assert b.try_acquire(10.0) is None
    b.record(p1, IGN, 0.0, 10.0)
    assert b.try_acquire(10.0) is not None


def test_half_open_with_every_permit_out_asks_callers_to_wait_a_probe() -> None:
    b, _ = make(slow_call_duration=3.0)
    trip(b, 0.0)
    b.acquire(10.0)
    assert b.retry_after(10.0) is None  # a probe slot is still free
    b.acquire(10.0)
    assert b.retry_after(10.0) == 3.0  # at most one slow probe away, never the open wait


def test_an_ignored_call_outside_half_open_counts_only_as_ignored() -> None:
    b, _ = make()
    p = b.acquire(0.0)
    b.record(p, IGN, 0.0, 0.0)
    snap = b.snapshot(0.0)
    assert snap.calls["ignored"] == 1 and snap.buffered_calls == 0
    assert b.state(0.0) is BreakerState.CLOSED


def test_a_reset_of_a_closed_breaker_reports_no_transition_but_forgets_the_window() -> None:
    b, seen = make()
    late = b.acquire(0.0)
    for _ in range(3):
        call(b, F, 0.0)
    b.reset(1.0)
    assert seen == []  # closed to closed is not a transition
    b.record(late, F, 0.1, 1.0)  # from before the reset: not held against the new window
    assert b.snapshot(1.0).buffered_calls == 0


def test_half_open_times_out_back_to_open() -> None:
    b, seen = make(max_wait_in_half_open=5.0)
    trip(b, 0.0)
    b.acquire(10.0)  # a probe that never reports back
    assert b.state(14.9) is BreakerState.HALF_OPEN
    assert b.state(15.0) is BreakerState.OPEN
    assert seen[-1].reason == "half-open probes did not finish in time"


def test_stale_permit_from_closed_does_not_count_after_open() -> None:
    b, _ = make()
    late = b.acquire(0.0)
    trip(b, 0.0)
    b.record(late, F, 0.1, 10.0)  # finishes after the breaker went half-open
    assert b.state(10.0) is BreakerState.HALF_OPEN
    assert b.snapshot(10.0).buffered_calls == 0


def test_double_record_and_forged_permits_are_ignored() -> None:
    b, _ = make()
    p = b.acquire(0.0)
    b.record(p, F, 0.1, 0.0)
    b.record(p, F, 0.1, 0.0)
    forged = type(p)(id=999, epoch=p.epoch, state=p.state)
    b.record(forged, F, 0.1, 0.0)
    assert b.snapshot(0.0).calls["failure"] == 1


def test_forced_open_and_disabled_overrides() -> None:
    b, seen = make()
    b.force_open(0.0)
    assert b.try_acquire(1000.0) is None  # stays open whatever the time
    assert b.retry_after(1000.0) == 10.0
    b.disable(1000.0)
    for _ in range(10):
        call(b, F, 1000.0)
    assert b.state(1000.0) is BreakerState.DISABLED
    b.reset(1001.0)
    assert b.state(1001.0) is BreakerState.CLOSED
    assert [t.to_state for t in seen] == [
        BreakerState.FORCED_OPEN,
        BreakerState.DISABLED,
        BreakerState.CLOSED,
    ]


def test_listener_failure_does_not_break_the_breaker(caplog: pytest.LogCaptureFixture) -> None:
    def boom(_: Transition) -> None:
        raise RuntimeError("listener bug")

    b = CircuitBreaker(BreakerConfig(window_size=2, minimum_calls=2), listener=boom)
    call(b, F, 0.0)
    call(b, F, 0.0)
    assert b.state(0.0) is BreakerState.OPEN
    assert "transition listener failed" in caplog.text


@pytest.mark.parametrize(
    "bad",
    [
        {"window_type": "sliding"},
        {"window_size": 0},
        {"failure_rate_threshold": 0},
        {"failure_rate_threshold": 101},
        {"wait_in_open": 0},
        {"wait_multiplier": 0.5},
        {"permitted_calls_in_half_open": 0},
        {"slow_call_duration": 0},
        {"max_wait_in_half_open": -1},
    ],
)
def test_invalid_config_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        BreakerConfig(**bad)  # type: ignore[arg-type]


def test_a_breaker_without_a_listener_still_transitions() -> None:
    b = CircuitBreaker(BreakerConfig(window_size=2, minimum_calls=2))
    call(b, F, 0.0)
    call(b, F, 0.0)
    assert b.state(0.0) is BreakerState.OPEN
