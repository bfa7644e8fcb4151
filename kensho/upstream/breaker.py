"""Circuit breaker logic (the resilience4j model), pure and deterministic.

The breaker never does I/O and never reads the wall clock: every method takes `now` (monotonic
seconds) from its caller, so the actor can own it and tests can drive it through every
transition. Outcomes are recorded into a count-based or time-based sliding window; once the
window holds `minimum_calls`, a failure rate or slow-call rate at or above its threshold opens
the circuit. While the upstream stays down, each reopening waits longer (exponential, capped);
closing resets the wait.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from kensho.errors import CircuitOpen

__all__ = [
    "BreakerConfig",
    "BreakerSnapshot",
    "BreakerState",
    "CircuitBreaker",
    "Outcome",
    "Permit",
    "Transition",
]

log = logging.getLogger(__name__)


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    DISABLED = "disabled"
    FORCED_OPEN = "forced_open"


class Outcome(enum.StrEnum):
    """How one permitted call ended. IGNORED returns the permit without counting it."""

    SUCCESS = "success"
    FAILURE = "failure"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class Permit:
    """Proof that a call was allowed; `epoch` ties it to the state that granted it."""

    id: int
    epoch: int
    state: BreakerState


@dataclass(frozen=True, slots=True)
class Transition:
    from_state: BreakerState
    to_state: BreakerState
    at: float
    reason: str


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """resilience4j's settings, with its defaults scaled to a web API."""

    window_type: Literal["count", "time"] = "count"
    #: calls (count window) or seconds (time window)
    window_size: int = 20
    minimum_calls: int = 10
    failure_rate_threshold: float = 50.0
    slow_call_rate_threshold: float = 100.0
    slow_call_duration: float = 2.0
    wait_in_open: float = 5.0
    wait_multiplier: float = 2.0
    max_wait_in_open: float = 120.0
    permitted_calls_in_half_open: int = 3
    #: 0 = wait for every half-open probe however long; else reopen after this many seconds
    max_wait_in_half_open: float = 30.0

    def __post_init__(self) -> None:
        if self.window_type not in ("count", "time"):
            raise ValueError("window_type must be 'count' or 'time'")
        if self.window_size < 1 or self.minimum_calls < 1 or self.permitted_calls_in_half_open < 1:
            raise ValueError("window_size, minimum_calls and half-open permits must be >= 1")
        for rate in (self.failure_rate_threshold, self.slow_call_rate_threshold):
            if not 0 < rate <= 100:
                raise ValueError("rate thresholds are percentages in (0, 100]")
        if self.wait_in_open <= 0 or self.wait_multiplier < 1 or self.max_wait_in_open <= 0:
            raise ValueError("open wait must be positive and the multiplier at least 1")
        if self.slow_call_duration <= 0 or self.max_wait_in_half_open < 0:
            raise ValueError("durations must be positive")


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    """What operators and metrics see; rates are -1 until `minimum_calls` are buffered."""

    state: BreakerState
    failure_rate: float
    slow_call_rate: float
    buffered_calls: int
    calls: dict[str, int]
    open_wait: float
    retry_after: float | None
    consecutive_opens: int


@dataclass(slots=True)
class _Bucket:
    """Aggregate of one second (time window) or one call (count window)."""

    key: int
    calls: int = 0
    failures: int = 0
    slow: int = 0


@dataclass(slots=True)
class _Window:
    """Sliding window with running totals, so a record is O(1) amortised."""

    kind: Literal["count", "time"]
    size: int
    buckets: deque[_Bucket] = field(default_factory=deque)
    calls: int = 0
    failures: int = 0
    slow: int = 0
    seq: int = 0

    def _drop(self, bucket: _Bucket) -> None:
        self.calls -= bucket.calls
        self.failures -= bucket.failures
        self.slow -= bucket.slow

    def expire(self, now: float) -> None:
        if self.kind == "time":
            horizon = int(now) - self.size
            while self.buckets and self.buckets[0].key <= horizon:
                self._drop(self.buckets.popleft())

    def add(self, now: float, failed: bool, slow: bool) -> None:
        self.expire(now)
        if self.kind == "count":
            self.seq += 1
            bucket = _Bucket(self.seq)
            self.buckets.append(bucket)
            if len(self.buckets) > self.size:
                self._drop(self.buckets.popleft())
        else:
            second = int(now)
            if not self.buckets or self.buckets[-1].key != second:
                self.buckets.append(_Bucket(second))
            bucket = self.buckets[-1]
        bucket.calls += 1
        bucket.failures += failed
        bucket.slow += slow
        self.calls += 1
        self.failures += failed
        self.slow += slow

    def rates(self, minimum: int) -> tuple[float, float]:
        if self.calls < minimum or self.calls == 0:
            return -1.0, -1.0
        return 100.0 * self.failures / self.calls, 100.0 * self.slow / self.calls


class CircuitBreaker:
    """State machine CLOSED → OPEN → HALF_OPEN → CLOSED|OPEN, plus admin overrides."""

    def __init__(
        self,
        config: BreakerConfig | None = None,
        *,
        name: str = "crunchyroll",
        listener: Callable[[Transition], None] | None = None,
    ) -> None:
        self.config = config or BreakerConfig()
        self.name = name
        self._listener = listener
        self._state = BreakerState.CLOSED
        self._epoch = 0
        self._next_permit = 0
        self._window = self._new_window()
        self._opened_at = 0.0
        self._open_wait = self.config.wait_in_open
        self._consecutive_opens = 0
        self._half_open_started = 0.0
        self._half_open_granted = 0
        self._half_open_window = _Window("count", self.config.permitted_calls_in_half_open)
        self._outstanding: set[int] = set()
        self._calls = {"success": 0, "failure": 0, "slow": 0, "rejected": 0, "ignored": 0}

    # -- queries -------------------------------------------------------------------------------

    def state(self, now: float) -> BreakerState:
        """Current state, after any time-driven transition that is due."""
        self._tick(now)
        return self._state

    def retry_after(self, now: float) -> float | None:
        """Seconds until a call may be attempted again (for the 503's `Retry-After`)."""
        self._tick(now)
        if self._state is BreakerState.OPEN:
            return max(0.0, self._opened_at + self._open_wait - now)
        if self._state is BreakerState.FORCED_OPEN:
            return self.config.wait_in_open
        if self._state is BreakerState.HALF_OPEN and self._half_open_granted >= self._permits():
            return min(self.config.wait_in_open, self.config.slow_call_duration)
        return None

    def snapshot(self, now: float) -> BreakerSnapshot:
        self._tick(now)
        window = self._half_open_window if self._state is BreakerState.HALF_OPEN else self._window
        minimum = self._permits() if self._state is BreakerState.HALF_OPEN else self._minimum()
        failure_rate, slow_rate = window.rates(minimum)
        return BreakerSnapshot(
            state=self._state,
            failure_rate=failure_rate,
            slow_call_rate=slow_rate,
            buffered_calls=window.calls,
            calls=dict(self._calls),
            open_wait=self._open_wait,
            retry_after=self.retry_after(now),
            consecutive_opens=self._consecutive_opens,
        )

    # -- the call protocol ---------------------------------------------------------------------

    def try_acquire(self, now: float) -> Permit | None:
        """A permit, or None (counted as rejected) when the call must fail fast."""
        self._tick(now)
        state = self._state
        if state is BreakerState.HALF_OPEN:
            if self._half_open_granted >= self._permits():
                return self._reject()
            self._half_open_granted += 1
        elif state in (BreakerState.OPEN, BreakerState.FORCED_OPEN):
            return self._reject()
        self._next_permit += 1
        self._outstanding.add(self._next_permit)
        return Permit(self._next_permit, self._epoch, state)

    def acquire(self, now: float) -> Permit:
        """Like `try_acquire`, raising `CircuitOpen` with `Retry-After` on rejection."""
        permit = self.try_acquire(now)
        if permit is None:
            raise CircuitOpen(
                f"the {self.name} circuit is {self._state.value}",
                retry_after=self.retry_after(now),
            )
        return permit

    def record(self, permit: Permit, outcome: Outcome, duration: float, now: float) -> None:
        """Count one finished call; a permit from an earlier state is not held against this one."""
        if permit.id not in self._outstanding:
            return  # recorded twice, or invented: ignore rather than skew the rates
        self._outstanding.discard(permit.id)
        self._tick(now)
        if outcome is Outcome.IGNORED:
            self._calls["ignored"] += 1
            if permit.epoch == self._epoch and self._state is BreakerState.HALF_OPEN:
                self._half_open_granted -= 1
            return
        failed = outcome is Outcome.FAILURE
        slow = duration >= self.config.slow_call_duration
        self._calls["failure" if failed else "success"] += 1
        self._calls["slow"] += slow
        if permit.epoch != self._epoch:
            return
        if self._state is BreakerState.CLOSED:
            self._window.add(now, failed, slow)
            self._evaluate_closed(now)
        elif self._state is BreakerState.HALF_OPEN:
            self._half_open_window.add(now, failed, slow)
            self._evaluate_half_open(now)

    # -- admin overrides -----------------------------------------------------------------------

    def disable(self, now: float) -> None:
        """Always permit, record nothing that changes state (an operator's escape hatch)."""
        self._transition(BreakerState.DISABLED, now, "admin: disabled")

    def force_open(self, now: float) -> None:
        """Reject every call until reset (e.g. during a known upstream maintenance)."""
        self._transition(BreakerState.FORCED_OPEN, now, "admin: forced open")

    def reset(self, now: float) -> None:
        """Back to CLOSED with empty windows and the initial open wait."""
        self._open_wait = self.config.wait_in_open
        self._consecutive_opens = 0
        self._transition(BreakerState.CLOSED, now, "admin: reset")

    # -- internals -----------------------------------------------------------------------------

    def _minimum(self) -> int:
        if self.config.window_type == "count":
            return min(self.config.minimum_calls, self.config.window_size)
        return self.config.minimum_calls

    def _permits(self) -> int:
        return self.config.permitted_calls_in_half_open

    def _reject(self) -> Permit | None:
        self._calls["rejected"] += 1
        return None

    def _new_window(self) -> _Window:
        return _Window(self.config.window_type, self.config.window_size)

    def _tripped(self, window: _Window, minimum: int) -> str | None:
        failure_rate, slow_rate = window.rates(minimum)
        if failure_rate < 0:
            return None
        if failure_rate >= self.config.failure_rate_threshold:
            return f"failure rate {failure_rate:.1f}% >= {self.config.failure_rate_threshold}%"
        if slow_rate >= self.config.slow_call_rate_threshold:
            return f"slow-call rate {slow_rate:.1f}% >= {self.config.slow_call_rate_threshold}%"
        return None

    def _evaluate_closed(self, now: float) -> None:
        reason = self._tripped(self._window, self._minimum())
        if reason:
            self._open(now, reason)

    def _evaluate_half_open(self, now: float) -> None:
        if self._half_open_window.calls < self._permits():
            return
        reason = self._tripped(self._half_open_window, self._permits())
        if reason:
            self._consecutive_opens += 1
            self._open_wait = min(
                self.config.max_wait_in_open, self._open_wait * self.config.wait_multiplier
            )
            self._open(now, "half-open probes: " + reason)
        else:
            self._open_wait = self.config.wait_in_open
            self._consecutive_opens = 0
            self._transition(BreakerState.CLOSED, now, "half-open probes succeeded")

    def _open(self, now: float, reason: str) -> None:
        self._opened_at = now
        self._transition(BreakerState.OPEN, now, reason)

    def _tick(self, now: float) -> None:
        """Apply transitions that only depend on time."""
        if self._state is BreakerState.OPEN and now >= self._opened_at + self._open_wait:
            self._half_open_started = now
            self._transition(BreakerState.HALF_OPEN, now, f"waited {self._open_wait:g}s")
        elif (
            self._state is BreakerState.HALF_OPEN
            and self.config.max_wait_in_half_open > 0
            and now >= self._half_open_started + self.config.max_wait_in_half_open
        ):
            self._consecutive_opens += 1
            self._open_wait = min(
                self.config.max_wait_in_open, self._open_wait * self.config.wait_multiplier
            )
            self._open(now, "half-open probes did not finish in time")
        elif self._state is BreakerState.CLOSED:
            self._window.expire(now)

    def _transition(self, to: BreakerState, now: float, reason: str) -> None:
        before = self._state
        self._state = to
        self._epoch += 1
        self._window = self._new_window()
        self._half_open_window = _Window("count", self._permits())
        self._half_open_granted = 0
        if to is BreakerState.HALF_OPEN:
            self._half_open_started = now
        if before is to:
            return
        log.info("breaker %s: %s -> %s (%s)", self.name, before.value, to.value, reason)
        if self._listener is not None:
            try:
                self._listener(Transition(before, to, now, reason))
            except Exception:
                log.exception("breaker %s: transition listener failed", self.name)
