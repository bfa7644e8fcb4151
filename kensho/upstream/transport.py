"""One attempt on the wire: breaker permit, pool slot, bounded body read, classification.

`Transport.attempt` returns a fully read `RawResponse`, so the connection is back in the pool
before the retry policy (`retry.py`) decides anything, and each attempt is recorded with the
breaker on its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from kensho.observability.timings import UPSTREAM, timed
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
from kensho.upstream.retry import RETRYABLE_EXCEPTIONS

__all__ = ["RawResponse", "Transport", "map_exception"]


@dataclass(frozen=True, slots=True)
class RawResponse:
    """A finished attempt: status, headers, the whole body, and its classification."""

    method: str
    url: str
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    failure: UpstreamFailure | None
    duration: float


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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.gate = gate
        self.pool_size = pool_size
        self.acquire_timeout = acquire_timeout
        self.max_body_bytes = max_body_bytes
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

    async def attempt(self, method: str, url: Any, *, auth: bool, **kwargs: Any) -> RawResponse:
        """One attempt; raises its failure (typed) when the answer is not usable."""
        permit = await self.gate.acquire_permit()
        outcome = Outcome.IGNORED
        started = self._clock()
        try:
            async with self.slot():
                started = self._clock()
                status, headers, body = await timed(
                    UPSTREAM.labels(method), self._exchange(method, url, kwargs)
                )
            duration = self._clock() - started
            failure = classify(status, headers, body, str(url), auth=auth)
            outcome = Outcome.FAILURE if failure and failure.breaker_failure else Outcome.SUCCESS
        except UpstreamFailure as exc:
            outcome = Outcome.FAILURE if exc.breaker_failure else Outcome.SUCCESS
            raise
        except RETRYABLE_EXCEPTIONS:
            outcome = Outcome.FAILURE
            raise
        finally:
            await self.gate.record(permit, outcome, self._clock() - started)
        if failure is not None:
            raise failure
        return RawResponse(method, str(url), status, headers, body, failure, duration)

    async def _exchange(
        self, method: str, url: Any, kwargs: dict[str, Any]
    ) -> tuple[int, CIMultiDictProxy[str], bytes]:
        """One request on a held slot: status, headers and the whole (bounded) body."""
        async with self.session.request(method, url, **kwargs) as resp:
            body = await self._read(resp, str(url))
            return resp.status, CIMultiDictProxy(CIMultiDict(resp.headers)), body

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
