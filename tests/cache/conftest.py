"""Cache test helpers: an injectable clock and services on the shared Redis, isolated by prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from kensho.cache import CacheService, CacheSettings, RedisSettings


class FakeClock:
    """A wall clock the test moves by hand, so TTLs expire without sleeping."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


MakeService = Callable[..., Awaitable[CacheService]]


@pytest.fixture
async def make_service(
    redis_url: str, redis_prefix: str, redis_client: object
) -> AsyncIterator[MakeService]:
    """Factory for started services sharing Redis under this test's prefix; closed afterwards.

    Depends on `redis_client` so the keys under the prefix are deleted after the test.
    """
    made: list[CacheService] = []

    async def make(
        *, url: str | None = None, clock: Callable[[], float] | None = None, **kw: object
    ) -> CacheService:
        redis_kw = {k[6:]: v for k, v in kw.items() if k.startswith("redis_")}
        other = {k: v for k, v in kw.items() if not k.startswith("redis_")}
        settings = CacheSettings(
            prefix=redis_prefix,
            redis=RedisSettings(url or redis_url, **redis_kw),  # type: ignore[arg-type]
            **other,  # type: ignore[arg-type]
        )
        svc = CacheService(settings, clock=clock) if clock else CacheService(settings)
        await svc.start()
        made.append(svc)
        return svc

    yield make
    for svc in reversed(made):
        await svc.close()
