"""The request envelope and the concepts it runs, in the house order.

Order (outermost first): request id -> tracing -> metrics -> errors -> rate limit -> input
validation -> timeout -> cache control. Errors sits inside metrics and tracing so they record
the final status, and outside the rest so a refusal, a bad field or a deadline becomes a
problem. All share one frame, `Envelope` (see its module for why), which wraps each route's
handler (`kensho.http.routing.Routes`) instead of running as an aiohttp middleware.
"""

from __future__ import annotations

from kensho.http.middlewares.base import InputParsers
from kensho.http.middlewares.envelope import CLIENT_CLOSED, Envelope, is_enveloped
from kensho.http.middlewares.rate_limit import RateLimiter, TokenBucketLimiter
from kensho.http.middlewares.timeout import Deadlines, deadline

__all__ = [
    "CLIENT_CLOSED",
    "Deadlines",
    "Envelope",
    "InputParsers",
    "RateLimiter",
    "TokenBucketLimiter",
    "deadline",
    "is_enveloped",
]
