"""Rate limiting: the `RateLimiter` the envelope consults, and a per-client token bucket.

The default limiter (`KENSHO_RATE_LIMIT_RPS` > 0) keeps one bucket per client address in this
process: each replica limits on its own, which bounds what one client can make one replica do.
Probes and scrapes (`/health/*`, `/metrics`) are never limited: a throttled readiness probe
would take a healthy replica out of service.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from aiohttp import web

from kensho.errors import RateLimited

__all__ = ["RateLimiter", "TokenBucketLimiter"]

_EXEMPT = ("/health/", "/metrics")


class RateLimiter(Protocol):
    async def check(self, request: web.Request) -> None:
        """Return to admit the request; raise `kensho.errors.RateLimited` to refuse it."""


class TokenBucketLimiter:
    """`rate` requests per second per client address, with bursts up to `burst`.

    Buckets live in an LRU bounded by `max_clients`, so a flood of distinct addresses costs
    bounded memory (an evicted client simply starts again with a full bucket).
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not rate > 0 or burst < 1 or max_clients < 1:
            raise ValueError("rate must be positive, burst and max_clients at least 1")
        self.rate = rate
        self.burst = float(burst)
        self.max_clients = max_clients
        self.rejected = 0
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def check(self, request: web.Request) -> None:
        if request.path.startswith(_EXEMPT):
            return
        self.take(request.remote or "unknown")

    def take(self, client: str) -> None:
        """Spend one token of `client`'s bucket or raise `RateLimited` with the wait."""
        now = self._clock()
        tokens, last = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[client] = (tokens, now)
            self.rejected += 1
            raise RateLimited(
                "Too many requests from this client; slow down.",
                retry_after=(1.0 - tokens) / self.rate,
            )
        self._buckets[client] = (tokens - 1.0, now)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)
