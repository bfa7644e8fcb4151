"""The seam between the client and the breaker: `PermitGate`.

The client asks a gate for a permit before each attempt and reports how it ended. The
production gate is the breaker actor's handle (later); `NoopGate` permits everything and
`LocalBreakerGate` drives a `CircuitBreaker` in-process (tests, single-threaded tools).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from kensho.upstream.breaker import BreakerState, CircuitBreaker, Outcome, Permit

__all__ = ["LocalBreakerGate", "NoopGate", "PermitGate"]


class PermitGate(Protocol):
    async def acquire_permit(self) -> Permit:
        """A permit, or raise `kensho.errors.CircuitOpen` (fail fast, with `retry_after`)."""
        ...

    async def record(self, permit: Permit, outcome: Outcome, duration: float) -> None:
        """Report how the permitted attempt ended; must not raise."""
        ...


class NoopGate:
    """Permits every call; used when no breaker is wanted."""

    _PERMIT = Permit(0, 0, BreakerState.DISABLED)

    async def acquire_permit(self) -> Permit:
        return self._PERMIT

    async def record(self, permit: Permit, outcome: Outcome, duration: float) -> None:
        return None


class LocalBreakerGate:
    """A `CircuitBreaker` called directly on the loop (no actor): fine for one thread."""

    def __init__(
        self, breaker: CircuitBreaker, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.breaker = breaker
        self._clock = clock

    async def acquire_permit(self) -> Permit:
        return self.breaker.acquire(self._clock())

    async def record(self, permit: Permit, outcome: Outcome, duration: float) -> None:
        self.breaker.record(permit, outcome, duration, self._clock())
