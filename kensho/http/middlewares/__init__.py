"""Middlewares, assembled in the house order by `build_middlewares`.

Order (outermost first): request id -> tracing -> metrics -> errors -> rate limit -> input
validation -> timeout -> cache control. Errors sits inside metrics and tracing so they record
the final status, and outside the rest so a refusal, a bad field or a deadline becomes a
problem. All share one frame, `envelope` (see its module for why).
"""

from __future__ import annotations

from kensho.config import Config
from kensho.http.lifecycle import Lifecycle
from kensho.http.middlewares.base import InputParsers, Middleware
from kensho.http.middlewares.envelope import CLIENT_CLOSED, envelope_middleware
from kensho.http.middlewares.rate_limit import RateLimiter, TokenBucketLimiter
from kensho.http.middlewares.timeout import Deadlines, deadline
from kensho.observability.metrics import Metrics
from kensho.observability.tracing import Tracing

__all__ = [
    "CLIENT_CLOSED",
    "Deadlines",
    "Middleware",
    "RateLimiter",
    "TokenBucketLimiter",
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
    input_parsers: InputParsers | None = None,
) -> list[Middleware]:
    """The app's middleware chain: one envelope frame (see its module for why)."""
    return [
        envelope_middleware(
            metrics=metrics,
            lifecycle=lifecycle,
            tracing=tracing,
            request_timeout=config.request_timeout,
            rate_limiter=rate_limiter,
            input_parsers=input_parsers,
        )
    ]
