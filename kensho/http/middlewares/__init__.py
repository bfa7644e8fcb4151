"""Middlewares, one module per concept, assembled in the house order by `build_middlewares`.

Order (outermost first): request id -> tracing -> metrics -> errors -> timeout -> rate limit ->
cache control. Errors sits inside metrics and tracing so they record the final status, and
outside timeout so a deadline becomes a 504 problem.
"""

from __future__ import annotations

from kensho.config import Config
from kensho.http.lifecycle import Lifecycle
from kensho.http.middlewares.base import Middleware
from kensho.http.middlewares.cache_control import cache_control_middleware
from kensho.http.middlewares.errors import errors_middleware
from kensho.http.middlewares.metrics import metrics_middleware
from kensho.http.middlewares.rate_limit import RateLimiter, rate_limit_middleware
from kensho.http.middlewares.request_id import request_id_middleware
from kensho.http.middlewares.timeout import deadline, timeout_middleware
from kensho.http.middlewares.tracing import tracing_middleware
from kensho.observability.metrics import Metrics
from kensho.observability.tracing import Tracing

__all__ = ["Middleware", "RateLimiter", "build_middlewares", "deadline"]


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
        request_id_middleware(),
        *([tracing_middleware(tracing)] if tracing.enabled else []),
        metrics_middleware(metrics, lifecycle),
        errors_middleware(),
        timeout_middleware(config.request_timeout),
    ]
    if rate_limiter is not None:
        chain.append(rate_limit_middleware(rate_limiter))
    chain.append(cache_control_middleware())
    return chain
