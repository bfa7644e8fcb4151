"""Middlewares, assembled in the house order by `build_middlewares`.

Order (outermost first): request id -> tracing -> metrics -> errors -> timeout -> rate limit ->
cache control. Errors sits inside metrics and tracing so they record the final status, and
outside timeout so a deadline becomes a 504 problem. All but the rate limit share one frame,
`envelope` (see its module for why); the rate limit, when configured, runs inside it.
"""

from __future__ import annotations

from kensho.config import Config
from kensho.http.lifecycle import Lifecycle
from kensho.http.middlewares.base import Middleware
from kensho.http.middlewares.envelope import CLIENT_CLOSED, envelope_middleware
from kensho.http.middlewares.rate_limit import RateLimiter, rate_limit_middleware
from kensho.http.middlewares.timeout import Deadlines, deadline
from kensho.observability.metrics import Metrics
from kensho.observability.tracing import Tracing

__all__ = [
    "CLIENT_CLOSED",
    "Deadlines",
    "Middleware",
    "RateLimiter",
    "build_middlewares",
    "deadline",
]


def build_middlewares(
    config: Config,
    *,
    metrics: Metrics,
    tracing: Tracing,
    lifecycle: Lifecycle,
    rate_limiter: RateLimiter | None = None,
) -> list[Middleware]:
    """The app's middleware chain; the rate-limit slot is empty unless a limiter is given."""
    chain = [
        envelope_middleware(
            metrics=metrics,
            lifecycle=lifecycle,
            tracing=tracing,
            request_timeout=config.request_timeout,
        )
    ]
    if rate_limiter is not None:
        chain.append(rate_limit_middleware(rate_limiter))
    return chain
