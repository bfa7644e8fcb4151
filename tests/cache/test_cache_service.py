"""CacheService on L1 only: get/set, single flight, stale-while-revalidate, stale-if-error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from kensho.cache import CacheService, CacheSettings
from kensho.config import load_config
from kensho.errors import ValidationFailed

if TYPE_CHECKING:
    from tests.cache.conftest import FakeClock


class Loader:
    """Counts calls; each call waits for `gate` (when set up) and returns or raises."""

    def __init__(self, value: bytes = b"loaded", *, gated: bool = False) -> None:
        self.value = value
        self.calls = 0
        self.error: Exception | None = None
        self.gate = asyncio.Event()
        self.started = asyncio.Event()
        if not gated:
            self.gate.set()

    async def __call__(self) -> bytes:
        self.calls += 1
        self.started.set()
        await self.gate.wait()
        if self.error is not None:
            raise self.error
        return self.value


@pytest.fixture
async def svc(clock: FakeClock) -> AsyncIterator[CacheService]:
    service = CacheService(CacheSettings(prefix="t:"), clock=clock)
    await service.start()
    yield service
    await service.close()


async def test_set_get_hit_and_miss(svc: CacheService) -> None:
    assert await svc.get("a") is None
    await svc.set("a", b"1", ttl=10)
    assert await svc.get("a") == b"1"
    assert svc.get_cached("a") == b"1"
    assert svc.stats()["lookups"] == {"l1": 2, "l2": 0, "miss": 1}
    assert svc.health() == {"status": "up", "l1": "up", "l2": "disabled"}


async def test_ttl_expiry(svc: CacheService, clock: FakeClock) -> None:
    await svc.set("a", b"1", ttl=10)
    clock.advance(10.01)
    assert await svc.get("a") is None
    assert svc.get_cached("a") is None


async def test_single_flight_100_waiters_one_load(svc: CacheService) -> None:
    loader = Loader(gated=True)
    calls = [asyncio.create_task(svc.get_or_load("cold", loader, ttl=60)) for _ in range(100)]
    await loader.started.wait()
    loader.gate.set()
    results = await asyncio.gather(*calls)
    assert results == [b"loaded"] * 100
    assert loader.calls == 1
    assert svc.stats()["joins"] == 99
    assert await svc.get_or_load("cold", loader, ttl=60) == b"loaded"
    assert loader.calls == 1


async def test_single_flight_shares_the_error(svc: CacheService) -> None:
    loader = Loader(gated=True)
    loader.error = RuntimeError("upstream down")
    calls = [asyncio.create_task(svc.get_or_load("k", loader, ttl=60)) for _ in range(20)]
    await loader.started.wait()
    loader.gate.set()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert loader.calls == 1
    assert svc.stats()["inflight"] == 0


async def test_a_cancelled_waiter_does_not_cancel_the_load(svc: CacheService) -> None:
    loader = Loader(gated=True)
    first = asyncio.create_task(svc.get_or_load("k", loader, ttl=60))
    second = asyncio.create_task(svc.get_or_load("k", loader, ttl=60))
    await loader.started.wait()
    first.cancel()
    loader.gate.set()
    assert await second == b"loaded"
    assert first.cancelled()
    assert loader.calls == 1


async def test_stale_while_revalidate_one_background_refresh(
    svc: CacheService, clock: FakeClock
) -> None:
    await svc.set("k", b"old", ttl=10, stale_ttl=30)
    clock.advance(15)
    loader = Loader(b"new", gated=True)
    served = await asyncio.gather(*(svc.get_or_load("k", loader, 10, 30) for _ in range(10)))
    assert served == [b"old"] * 10  # answered at once, before the refresh finished
    await loader.started.wait()
    loader.gate.set()
    await svc.wait_idle()
    assert loader.calls == 1
    assert await svc.get_or_load("k", loader, 10, 30) == b"new"
    assert svc.stats()["refreshes"] == 1


async def test_stale_if_error_serves_stale_within_window(
    svc: CacheService, clock: FakeClock
) -> None:
    await svc.set("k", b"old", ttl=10, stale_ttl=5, error_ttl=100)
    clock.advance(50)  # past the SWR window, inside the error window: a reload is required
    loader = Loader()
    loader.error = RuntimeError("boom")
    assert await svc.get_or_load("k", loader, 10, 5, 100) == b"old"
    assert loader.calls == 1
    assert svc.stats()["stale_if_error"] == 1


async def test_stale_if_error_raises_outside_window(svc: CacheService, clock: FakeClock) -> None:
    await svc.set("k", b"old", ttl=10, stale_ttl=5, error_ttl=20)
    clock.advance(31)
    loader = Loader()
    loader.error = RuntimeError("boom")
    with pytest.raises(RuntimeError, match="boom"):
        await svc.get_or_load("k", loader, 10, 5, 20)


async def test_failed_background_refresh_keeps_serving_stale(
    svc: CacheService, clock: FakeClock
) -> None:
    await svc.set("k", b"old", ttl=10, stale_ttl=30)
    clock.advance(15)
    loader = Loader()
    loader.error = RuntimeError("boom")
    assert await svc.get_or_load("k", loader, 10, 30) == b"old"
    await svc.wait_idle()
    assert await svc.get_or_load("k", loader, 10, 30) == b"old"
    await svc.wait_idle()
    assert svc.stats()["load_errors"] == 2


async def test_invalidation_during_a_load_discards_its_result(svc: CacheService) -> None:
    loader = Loader(b"before-invalidation", gated=True)
    call = asyncio.create_task(svc.get_or_load("anime:1", loader, ttl=60))
    await loader.started.wait()
    await svc.invalidate("anime:*")
    loader.gate.set()
    assert await call == b"before-invalidation"
    assert await svc.get("anime:1") is None
    assert svc.stats()["discarded_loads"] == 1


async def test_invalidate_pattern_local(svc: CacheService) -> None:
    for k in ("anime:1", "anime:2", "episode:1"):
        await svc.set(k, b"x", ttl=60)
    assert await svc.invalidate("anime:*") == 2
    assert await svc.get("episode:1") == b"x"
    assert await svc.get("anime:1") is None


async def test_lookup_counts_and_hit_ratio(clock: FakeClock) -> None:
    svc = CacheService(CacheSettings(prefix="h:"), clock=clock)
    loader = Loader()
    await svc.get_or_load("k", loader, ttl=10)
    assert svc.lookups == {"l1": 0, "l2": 0, "miss": 1}
    await svc.get_or_load("k", loader, ttl=10)
    assert svc.get_cached("k") == loader.value
    assert svc.lookups == {"l1": 2, "l2": 0, "miss": 1}
    stats = svc.stats()
    assert stats["hit_ratio"] == pytest.approx(2 / 3)
    assert stats["hit_ratio_by_tier"]["miss"] == pytest.approx(1 / 3)
    await svc.close()


async def test_byte_bound_through_the_service(clock: FakeClock) -> None:
    svc = CacheService(CacheSettings(prefix="b:", l1_max_bytes=100), clock=clock)
    for i in range(10):
        await svc.set(f"k{i}", bytes(30), ttl=60)
    stats = svc.stats()
    assert stats["bytes"] <= 100 and stats["evictions"] == 7
    await svc.close()


@pytest.mark.parametrize("ttl", [float("nan"), float("inf"), -1.0, "10", True])
async def test_hostile_ttls_are_rejected(svc: CacheService, ttl: object) -> None:
    with pytest.raises(ValueError):
        await svc.set("k", b"v", ttl=ttl)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        await svc.get_or_load("k", Loader(), ttl=ttl)  # type: ignore[arg-type]


async def test_values_must_be_bytes(svc: CacheService) -> None:
    with pytest.raises(TypeError):
        await svc.set("k", "text", ttl=1)  # type: ignore[arg-type]

    async def bad_loader() -> bytes:
        return {"not": "bytes"}  # type: ignore[return-value]

    with pytest.raises(TypeError):
        await svc.get_or_load("k", bad_loader, ttl=1)
    assert await svc.get("k") is None


@pytest.mark.parametrize(
    "key", ["a*b", "a?[x]\\", "\x00\n\r", "\ud800lone-surrogate", b"\xff\xfe\x80", "é" * 500]
)
async def test_hostile_keys_round_trip(svc: CacheService, key: str | bytes) -> None:
    await svc.set(key, b"v", ttl=10)
    assert await svc.get(key) == b"v"
    assert await svc.invalidate(key) == 1
    assert await svc.get(key) is None


async def test_huge_and_wrongly_typed_keys_are_400(svc: CacheService) -> None:
    with pytest.raises(ValidationFailed) as info:
        await svc.get("k" * 2000)
    assert info.value.status == 400
    with pytest.raises(ValidationFailed):
        await svc.invalidate("*" * 5000)
    with pytest.raises(ValidationFailed):
        await svc.get(12345)  # type: ignore[arg-type]


async def test_glob_metacharacters_in_patterns_are_literal(svc: CacheService) -> None:
    await svc.set("a[1]", b"v", ttl=10)
    await svc.set("a1", b"v", ttl=10)
    await svc.set("a?", b"v", ttl=10)
    await svc.set("ab", b"v", ttl=10)
    assert await svc.invalidate("a[1]") == 1
    assert await svc.invalidate("a?") == 1
    assert await svc.get("a1") == b"v" and await svc.get("ab") == b"v"


def test_settings_from_config() -> None:

    cfg = load_config(
        {},
        {"cache_prefix": "r1:", "cache_l1_max_bytes": 4096, "redis_url": "redis://h:1/2"},
    )
    settings = CacheSettings.from_config(cfg)
    assert settings.prefix == "r1:" and settings.l1_max_bytes == 4096
    assert settings.redis is not None and settings.redis.url == "redis://h:1/2"
    assert settings.redis.max_connections == cfg.redis_pool_max
    assert CacheSettings.from_config(load_config({}, {})).redis is None


async def test_expired_entries_are_purged_a_slice_per_tick(clock: FakeClock) -> None:
    ticks: asyncio.Queue[float] = asyncio.Queue()
    go: asyncio.Queue[None] = asyncio.Queue()

    async def sleep(seconds: float) -> None:
        ticks.put_nowait(seconds)
        await go.get()

    svc = CacheService(CacheSettings(purge_interval=2.5, purge_slice=3), clock=clock, sleep=sleep)
    for i in range(5):
        await svc.set(f"k{i}", b"x", ttl=1)
    await svc.set("live", b"x", ttl=100)
    await svc.start()
    try:
        assert await ticks.get() == 2.5
        clock.advance(2)
        go.put_nowait(None)
        await ticks.get()  # the next sleep: one tick's purge has run
        assert len(svc.l1) == 3 and svc.stats()["expirations"] == 3
        go.put_nowait(None)
        await ticks.get()
        assert len(svc.l1) == 1 and svc.get_cached("live") == b"x"
    finally:
        await svc.close()


async def test_purge_expired_now_takes_slices(clock: FakeClock) -> None:
    svc = CacheService(CacheSettings(purge_slice=2), clock=clock)
    for i in range(5):
        await svc.set(f"k{i}", b"x", ttl=1)
    clock.advance(2)
    assert await svc.purge_expired() == 5
    assert len(svc.l1) == 0


@pytest.mark.parametrize("kw", [{"purge_interval": 0}, {"purge_slice": 0}])
def test_malformed_purge_settings_are_rejected(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="purge"):
        CacheSettings(**kw)  # type: ignore[arg-type]


async def test_a_load_older_than_every_remembered_invalidation_is_not_written(
    svc: CacheService,
) -> None:
    loader = Loader(b"ancient", gated=True)
    call = asyncio.create_task(svc.get_or_load("anime:1", loader, ttl=60))
    await loader.started.wait()
    for i in range(300):  # more than are remembered, none of them about anime:1
        await svc.invalidate(f"other:{i}")
    loader.gate.set()
    assert await call == b"ancient"
    assert svc.get_cached("anime:1") is None
    assert svc.stats()["discarded_loads"] == 1


async def test_an_unrelated_invalidation_does_not_discard_a_load(svc: CacheService) -> None:
    loader = Loader(b"fresh", gated=True)
    call = asyncio.create_task(svc.get_or_load("anime:1", loader, ttl=60))
    await loader.started.wait()
    await svc.invalidate("episode:*")
    loader.gate.set()
    assert await call == b"fresh"
    assert svc.get_cached("anime:1") == b"fresh"
    assert svc.stats()["discarded_loads"] == 0
