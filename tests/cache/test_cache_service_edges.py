"""CacheService paths between its tiers: a load cancelled by close, invalidation listeners that
fail, and each state an L2 entry can be in when a load consults it (fresh but invalidated,
stale older than L1's, inside its error window only, expired but still in Redis)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from test_cache_service import Loader

from kensho.cache import CacheService, CacheSettings
from kensho.cache.lru import Entry
from tests.cache.conftest import FakeClock, MakeService


class HeldGet:
    """Holds the L2 read of a load until released (an invalidation lands meanwhile)."""

    def __init__(self, svc: CacheService) -> None:
        assert svc.l2 is not None
        self.original = svc.l2.get
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        svc.l2.get = self  # type: ignore[method-assign]

    async def __call__(self, key: bytes) -> Entry | None:
        self.entered.set()
        await self.release.wait()
        return await self.original(key)


async def test_close_cancels_a_load_in_flight_and_its_waiters(clock: FakeClock) -> None:
    svc = CacheService(CacheSettings(prefix="t:"), clock=clock)
    await svc.start()
    loader = Loader(gated=True)
    waiter = asyncio.create_task(svc.get_or_load("k", loader, 60))
    await loader.started.wait()
    await svc.close()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert svc.get_cached("k") is None


async def test_a_load_after_an_earlier_unrelated_invalidation_is_kept(clock: FakeClock) -> None:
    svc = CacheService(CacheSettings(prefix="t:"), clock=clock)
    await svc.start()
    try:
        await svc.invalidate("before:*")  # remembered, older than the load
        loader = Loader(b"v", gated=True)
        call = asyncio.create_task(svc.get_or_load("anime:1", loader, 60))
        await loader.started.wait()
        await svc.invalidate("episode:*")  # newer than the load, about something else
        loader.gate.set()
        assert await call == b"v"
        assert svc.get_cached("anime:1") == b"v"
    finally:
        await svc.close()


async def test_a_failing_invalidation_listener_is_logged_and_the_rest_still_run(
    make_service: MakeService, caplog: pytest.LogCaptureFixture
) -> None:
    a = await make_service()
    b = await make_service()
    heard: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def broken(_: bytes) -> None:
        raise RuntimeError("listener bug")

    b.add_invalidation_listener(broken)
    b.add_invalidation_listener(lambda p: heard.done() or heard.set_result(p))
    await b.set("x", b"v", ttl=60)
    with caplog.at_level(logging.ERROR):
        await a.invalidate("x")
        assert await asyncio.wait_for(heard, 5) == b"x"
    assert await b.get("x") is None
    assert "invalidation listener failed" in caplog.text


async def test_a_fresh_l2_value_invalidated_during_the_read_answers_but_is_not_kept(
    make_service: MakeService, clock: FakeClock
) -> None:
    a = await make_service(clock=clock)
    b = await make_service(clock=clock)
    await a.set("k", b"from-l2", ttl=60)
    held = HeldGet(b)
    call = asyncio.create_task(b.get_or_load("k", Loader(b"loaded"), 60))
    await held.entered.wait()
    b._drop_local(b._ns.pattern(b"k").matches)  # an invalidation lands during the read
    held.release.set()
    assert await call == b"from-l2"
    assert b.get_cached("k") is None


async def test_a_newer_stale_l2_value_invalidated_during_the_read_is_not_kept(
    make_service: MakeService, clock: FakeClock
) -> None:
    a = await make_service(clock=clock)
    b = await make_service(clock=clock)
    await a.set("k", b"l2", ttl=10, stale_ttl=100)
    clock.advance(20)
    held = HeldGet(b)
    loader = Loader(b"reloaded", gated=True)
    call = asyncio.create_task(b.get_or_load("k", loader, 10, 100))
    await held.entered.wait()
    b._drop_local(b._ns.pattern(b"k").matches)
    held.release.set()
    assert await call == b"l2"  # stale-while-revalidate from L2
    assert b.l1.get(b._ns.key("k")) is None  # not kept: it was invalidated meanwhile
    loader.gate.set()
    await b.wait_idle()


async def test_a_stale_l2_value_older_than_l1s_is_not_taken(
    make_service: MakeService, clock: FakeClock
) -> None:
    a = await make_service(clock=clock)
    b = await make_service(clock=clock)
    await b.set("k", b"newer", ttl=20, stale_ttl=100)
    await a.set("k", b"older", ttl=10, stale_ttl=100)  # L2 now holds the older one
    clock.advance(25)  # both stale
    loader = Loader(b"reloaded", gated=True)
    assert await b.get_or_load("k", loader, 20, 100) == b"newer"  # L1's, at once
    await loader.started.wait()
    entry = b.l1.get(b._ns.key("k"))
    assert entry is not None and entry.value == b"newer"  # L2's older value did not replace it
    loader.gate.set()
    await b.wait_idle()
    assert b.get_cached("k") == b"reloaded"


async def test_an_l2_value_in_its_error_window_is_only_a_fallback(
    make_service: MakeService, clock: FakeClock
) -> None:
    a = await make_service(clock=clock)
    b = await make_service(clock=clock)
    await a.set("k", b"old", ttl=10, stale_ttl=5, error_ttl=100)
    clock.advance(50)
    assert await b.get_or_load("k", Loader(b"new"), 10, 5, 100) == b"new"  # reloaded, not served
    failing = Loader()
    failing.error = RuntimeError("upstream down")
    await a.set("j", b"old", ttl=10, stale_ttl=5, error_ttl=100)
    clock.advance(50)
    assert await b.get_or_load("j", failing, 10, 5, 100) == b"old"  # served when the load fails
    assert b.stats()["stale_if_error"] == 1


async def test_an_expired_l2_value_still_in_redis_is_a_miss(
    make_service: MakeService, clock: FakeClock
) -> None:
    a = await make_service(clock=clock)
    b = await make_service(clock=clock)
    await a.set("k", b"ancient", ttl=10)
    clock.advance(1000)  # past every window; Redis's own TTL runs on the real clock
    assert await b.get_or_load("k", Loader(b"new"), 10) == b"new"


async def test_a_refresh_that_fails_after_its_stale_answer_expired_is_only_logged(
    make_service: MakeService, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    a = await make_service(clock=clock)
    b = await make_service(clock=clock)
    await a.set("k", b"stale", ttl=10, stale_ttl=20)
    clock.advance(15)
    loader = Loader(gated=True)
    loader.error = RuntimeError("refresh failed")
    assert await b.get_or_load("k", loader, 10, 20) == b"stale"  # answered from L2
    await loader.started.wait()
    clock.advance(100)  # the stale value expires while the refresh runs
    with caplog.at_level(logging.WARNING):
        loader.gate.set()
        await b.wait_idle()
    assert "background refresh failed" in caplog.text
    assert b.stats()["load_errors"] == 1


async def test_a_refresh_that_fails_after_a_stale_l2_answer_keeps_that_answer(
    make_service: MakeService, clock: FakeClock
) -> None:
    a = await make_service(clock=clock)
    b = await make_service(clock=clock)
    await a.set("k", b"stale", ttl=10, stale_ttl=20)
    clock.advance(15)
    failing = Loader()
    failing.error = RuntimeError("refresh failed")
    assert await b.get_or_load("k", failing, 10, 20) == b"stale"
    await b.wait_idle()
    assert b.stats()["load_errors"] == 1 and b.stats()["stale_if_error"] == 0
    assert b.get_cached("k") is None and await b.get_or_load("k", failing, 10, 20) == b"stale"
