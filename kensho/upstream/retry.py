"""Retry policy: exponential backoff with full jitter, `Retry-After` honoured and capped.

aiohttp-retry drives the attempts (`CallRetry` is its `RetryOptionsBase`), but the delay is
slept by our transport, not by aiohttp-retry's `asyncio.sleep`: the pool slot is free while we
wait, the wait is checked against the call's deadline (a `Retry-After` longer than the budget
fails now instead of sleeping in vain), and tests inject the sleep and the random source.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from aiohttp_retry import RetryOptionsBase

__all__ = ["CallRetry", "RetryPolicy", "parse_retry_after"]

#: Longest `Retry-After` value we parse at all; anything larger is treated as hostile.
_MAX_HEADER_LEN = 64


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP-date), else None."""
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > _MAX_HEADER_LEN:
        return None
    if value.isascii() and value.isdigit():
        return float(int(value))
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # not RFC 9110, but seen in the wild: "1.5"; reject nan/inf/negative
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How an idempotent call is retried; `attempts` counts the first try."""

    attempts: int = 3
    base_delay: float = 0.1
    factor: float = 2.0
    max_delay: float = 2.0
    retry_after_cap: float = 5.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.retry_after_cap < 0:
            raise ValueError("delays must not be negative")
        if self.factor < 1:
            raise ValueError("factor must be at least 1")

    def backoff_ceiling(self, retry_number: int) -> float:
        """Upper bound of the jittered delay before retry `retry_number` (1-based)."""
        exponent = min(retry_number - 1, 64)  # keep the float finite for absurd attempt counts
        return min(self.max_delay, self.base_delay * self.factor**exponent)

    def delay(
        self, retry_number: int, retry_after: float | None, rand: Callable[[], float]
    ) -> float:
        """Full jitter (AWS): uniform in [0, ceiling]; a server's `Retry-After` wins, capped."""
        if retry_after is not None:
            return min(retry_after, self.retry_after_cap)
        return rand() * self.backoff_ceiling(retry_number)


@dataclass
class CallRetry(RetryOptionsBase):
    """aiohttp-retry options for ONE call: decides per answer, remembers the next delay.

    `get_timeout` returns 0 so aiohttp-retry only yields; the transport sleeps `pending_delay`
    (see the module docstring).
    """

    policy: RetryPolicy
    idempotent: bool
    rand: Callable[[], float] = random.random
    delays: list[float] = field(default_factory=list)
    pending_delay: float = 0.0
    last_retry_after: float | None = None

    def __post_init__(self) -> None:
        from kensho.upstream.transport import RETRYABLE_EXCEPTIONS

        RetryOptionsBase.__init__(
            self,
            attempts=self.policy.attempts if self.idempotent else 1,
            statuses=set(),
            exceptions=set(RETRYABLE_EXCEPTIONS),
            methods=None,
            retry_all_server_errors=False,
            evaluate_response_callback=self._evaluate,
        )

    async def _evaluate(self, response: Any) -> bool:
        """True = keep this answer (aiohttp-retry's convention); False = try again."""
        failure = response.failure
        self.last_retry_after = getattr(failure, "retry_after", None)
        return not (failure is not None and failure.retryable)

    def get_timeout(self, attempt: int, response: Any = None) -> float:
        retry_after = self.last_retry_after if response is not None else None
        self.pending_delay = self.policy.delay(attempt, retry_after, self.rand)
        self.delays.append(self.pending_delay)
        return 0.0
