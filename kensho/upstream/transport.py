"""One attempt on the wire: backoff sleep, breaker permit, pool slot, bounded body read.

`Transport` stands in for the `ClientSession` that aiohttp-retry's `RetryClient` drives: its
`request()` returns a fully read `RawResponse`, so the connection is back in the pool before
aiohttp-retry decides anything, and each attempt is recorded with the breaker on its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from kensho.upstream.breaker import Outcome
from kensho.upstream.errors import (
    UpstreamDecodeError,
    UpstreamFailure,
    UpstreamPoolExhausted,
    UpstreamTimeout,
    UpstreamUnreachable,
    classify,
)
from kensho.upstream.gate import PermitGate
from kensho.upstream.retry import CallRetry

__all__ = ["RETRYABLE_EXCEPTIONS", "CallState", "RawResponse", "Transport", "map_exception"]

#: Transport exceptions worth another attempt (idempotent calls only).
RETRYABLE_EXCEPTIONS: tuple[type[Exception], ...] = (
    aiohttp.ClientConnectionError,
    aiohttp.ClientPayloadError,
    asyncio.TimeoutError,
)


@dataclass(frozen=True, slots=True)
class RawResponse:
    """A finished attempt; quacks like the parts of `ClientResponse` aiohttp-retry touches."""

    method: str
    url: str
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    failure: UpstreamFailure | None
    duration: float

    @property
    def closed(self) -> bool:
        return True

    def close(self) -> None:
        return None

    def raise_for_status(self) -> None:
        if self.failure is not None:
            raise self.failure


@dataclass(slots=True)
class CallState:
    """What one logical call (all its attempts) shares."""

    retry: CallRetry
    deadline: float
    auth: bool = False
    last_failure: UpstreamFailure | None = None
    last_exception: Exception | None = None
    attempts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def map_exception(exc: BaseException, url: str) -> UpstreamFailure:
    """A transport exception as the failure a caller sees."""
    if isinstance(exc, asyncio.TimeoutError):
        return UpstreamTimeout("Crunchyroll did not answer in time", url=url)
    return UpstreamUnreachable(f"cannot reach Crunchyroll: {type(exc).__name__}", url=url)


class Transport:
    """Owns the pool slots (an explicit semaphore, so a full pool fails fast and is visible)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        gate: PermitGate,
        pool_size: int,
        acquire_timeout: float,
        max_body_bytes: int,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.gate = gate
        self.pool_size = pool_size
        self.acquire_timeout = acquire_timeout
        self.max_body_bytes = max_body_bytes
        self._sleep = sleep
        self._clock = clock
        self._slots = asyncio.Semaphore(pool_size)
        self.in_use = 0
        self.waiting = 0
        self.exhausted = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of `pool_size` connections; wait at most `acquire_timeout` for it."""
        self.waiting += 1
        try:
            async with asyncio.timeout(self.acquire_timeout):
                await self._slots.acquire()
        except TimeoutError:
            self.exhausted += 1
            raise UpstreamPoolExhausted(
                f"all {self.pool_size} upstream connections busy for {self.acquire_timeout:g}s",
                retry_after=1,
            ) from None
        finally:
            self.waiting -= 1
        self.in_use += 1
        try:
            yield
        finally:
            self.in_use -= 1
            self._slots.release()

    async def request(self, method: str, url: Any, **kwargs: Any) -> RawResponse:
        """One attempt (called by aiohttp-retry; `trace_request_ctx` carries our CallState)."""
        ctx = kwargs.pop("trace_request_ctx")
        call: CallState = ctx["call"]
        attempt: int = ctx["current_attempt"]
        call.attempts = attempt
        if attempt > 1:
            delay = call.retry.pending_delay
            if self._clock() + delay > call.deadline:
                raise self._give_up(call, str(url))
            await self._sleep(delay)
        permit = await self.gate.acquire_permit()
        outcome = Outcome.IGNORED
        started = self._clock()
        try:
            async with self.slot():
                started = self._clock()
                async with self.session.request(method, url, **kwargs) as resp:
                    body = await self._read(resp, str(url))
                    headers = CIMultiDictProxy(CIMultiDict(resp.headers))
                    status = resp.status
            duration = self._clock() - started
            failure = classify(status, headers, body, str(url), auth=call.auth)
            outcome = Outcome.FAILURE if failure and failure.breaker_failure else Outcome.SUCCESS
            call.last_failure, call.last_exception = failure, None
            return RawResponse(method, str(url), status, headers, body, failure, duration)
        except UpstreamFailure as exc:
            outcome = Outcome.FAILURE if exc.breaker_failure else Outcome.SUCCESS
            raise
        except RETRYABLE_EXCEPTIONS as exc:
            outcome = Outcome.FAILURE
            call.last_exception, call.last_failure = exc, None
            raise
        finally:
            await self.gate.record(permit, outcome, self._clock() - started)

    def _give_up(self, call: CallState, url: str) -> Exception:
        if call.last_failure is not None:
            return call.last_failure
        if call.last_exception is not None:
            return map_exception(call.last_exception, url)
        return UpstreamTimeout("no time left for another attempt", url=url)

    async def _read(self, resp: aiohttp.ClientResponse, url: str) -> bytes:
        limit = self.max_body_bytes
        if resp.content_length is not None and resp.content_length > limit:
            raise UpstreamDecodeError(
                f"answer of {resp.content_length} bytes exceeds {limit}",
                upstream_status=resp.status,
                url=url,
            )
        chunks: list[bytes] = []
        total = 0
        async for chunk in resp.content.iter_chunked(65_536):
            total += len(chunk)
            if total > limit:
                raise UpstreamDecodeError(
                    f"answer exceeds {limit} bytes",
                    upstream_status=resp.status,
                    url=url,
                    body=b"".join(chunks)[:512],
                )
            chunks.append(chunk)
        return b"".join(chunks)

    async def close(self) -> None:
        await self.session.close()
