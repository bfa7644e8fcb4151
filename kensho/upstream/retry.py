"""Retry policy: exponential backoff with full jitter, `Retry-After` honoured and capped.

tenacity runs the attempts (`RetryPolicy.retrying`): it decides per attempt with our
predicate (an idempotent call, a retryable failure), waits with our delay function and sleeps
with an injectable sleep, and stops after `attempts` or when the next wait would outrun the
call's deadline (a `Retry-After` longer than the budget fails now with the upstream's answer
instead of sleeping in vain). Each attempt takes its own breaker permit and pool slot
(`transport.Transport.attempt`), so the connection is back in the pool while we wait.

*Why not aiohttp-retry* (it was used here before): its `RetryClient` drives a
`ClientSession` and sleeps with `asyncio.sleep` itself. Per-attempt permits, slots, bounded
reads and typed failures meant handing it our transport cast to `ClientSession` and
bypassing its backoff and sleep (a 0 s wait, the real one slept by us): it only contributed
the loop. It also keeps a retried response unreleased through the sleep and knows no
deadline. tenacity is built for exactly this loop, with the policy pieces pluggable.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import aiohttp
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_any,
)
from tenacity.stop import stop_base

from kensho.upstream.errors import UpstreamFailure
from kensho.upstream.headers import parse_retry_after

__all__ = ["RETRYABLE_EXCEPTIONS", "RetryPolicy", "is_retryable", "parse_retry_after"]

#: Transport exceptions worth another attempt (idempotent calls only).
RETRYABLE_EXCEPTIONS: Final[tuple[type[Exception], ...]] = (
    aiohttp.ClientConnectionError,
    aiohttp.ClientPayloadError,
    asyncio.TimeoutError,
)


def is_retryable(exc: BaseException) -> bool:
    """A failure worth another attempt of an idempotent call."""
    if isinstance(exc, UpstreamFailure):
        return exc.retryable
    return isinstance(exc, RETRYABLE_EXCEPTIONS)


class _PastDeadline(stop_base):
    """Stop when the next wait would end after the call's deadline."""

    def __init__(self, deadline: float, clock: Callable[[], float]) -> None:
        self.deadline = deadline
        self.clock = clock

    def __call__(self, state: RetryCallState) -> bool:
        return self.clock() + (state.upcoming_sleep or 0.0) > self.deadline


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

    def attempts_for(self, idempotent: bool) -> int:
        """Non-idempotent calls get exactly one attempt."""
        return self.attempts if idempotent else 1

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

    def retrying(
        self,
        *,
        idempotent: bool,
        deadline: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        on_sleep: Callable[[float], None] | None = None,
    ) -> AsyncRetrying:
        """The attempts of one call: `async for attempt in policy.retrying(...)`.

        Re-raises the last attempt's own exception when it gives up (never tenacity's
        `RetryError`). `on_sleep` hears each delay before it is slept.
        """

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome is not None else None
            retry_after = getattr(exc, "retry_after", None)
            return self.delay(state.attempt_number, retry_after, rand)

        def before_sleep(state: RetryCallState) -> None:
            if on_sleep is not None:
                on_sleep(state.upcoming_sleep)

        return AsyncRetrying(
            stop=stop_any(
                stop_after_attempt(self.attempts_for(idempotent)), _PastDeadline(deadline, clock)
            ),
            wait=wait,
            retry=retry_if_exception(is_retryable),
            sleep=sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
