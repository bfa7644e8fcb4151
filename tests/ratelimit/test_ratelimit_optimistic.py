"""Optimistic admission: a quiet client is admitted before Redis answers its take; the
overshoot this allows stays within one request per replica per client and window, a take
that says "over quota" makes the replica refuse locally, a failing take falls back to the
local quota, and nothing is left running at shutdown."""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
from typing import Any

import pytest
import redis.asyncio as aioredis

from kensho.errors import RateLimited
from kensho.ratelimit import FleetLimiter, LocalGcra, Policy, RedisGcra, Take
from kensho.ratelimit.gcra import Settle

from .replicas import admitted, two_replicas

#: Burst large enough for optimism (`OPTIMISTIC_MIN_BURST`); one unit a second.
POLICY = Policy("default", rate=1, burst=50)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ManualStore:
    """A Redis store whose takes wait until the test answers them (`answer`), from a local
    GCRA or with an exception; awaited takes and background takes alike."""

    def __init__(self) -> None:
        self.local = LocalGcra(clock=lambda: 1000.0)
        self.queued: list[tuple[tuple[Any, ...], Settle]] = []
        self.awaited = 0
        self.flushed = 0

    def take_soon(self, *args: Any) -> None:
        *take, settle = args
        self.queued.append((tuple(take), settle))

    def flush(self) -> None:
        self.flushed += 1

    async def take(self, *args: Any) -> Take:
        done: asyncio.Future[Take | Exception] = asyncio.get_running_loop().create_future()
        self.awaited += 1
        self.queued.append((args, functools.partial(_unless_gone, done)))
        answer = await done
        if isinstance(answer, Exception):
            raise answer
        return answer

    def answer(self, failure: Exception | None = None) -> int:
        queued, self.queued = self.queued, []
        for args, settle in queued:
            settle(failure if failure is not None else self.local.take(*args))
        return len(queued)


def _unless_gone(done: asyncio.Future[Take | Exception], answer: Take | Exception) -> None:
    if not done.done():  # the request was cancelled meanwhile
        done.set_result(answer)


def limiter_on(store: ManualStore, clock: Clock) -> FleetLimiter:
    limiter = FleetLimiter(clock=clock)
    limiter._redis = store  # type: ignore[assignment]  # the Redis store's interface
    return limiter


async def test_a_quiet_client_is_admitted_before_its_take_answers_and_headers_estimate() -> None:
    clock, store = Clock(), ManualStore()
    limiter = limiter_on(store, clock)
    # no await suspends: the request is admitted while its take is still queued
    usage = await asyncio.wait_for(limiter.acquire(POLICY, "1.2.3.4"), 0.5)
    assert usage == '"default";r=49;t=1'  # a client never seen here: a full quota, less one
    assert len(store.queued) == 1 and store.awaited == 0
    assert limiter.stats()["optimistic"] == {"admitted": 1, "over": 0}
    store.answer()
    # later, the estimate is what the last take left, refilled since at the policy's rate
    store.local.take("kensho:rl:default:1.2.3.4", POLICY.interval_us, 50, 9, 0)  # elsewhere
    clock.now += 10
    usage = await limiter.acquire(POLICY, "1.2.3.4")
    assert usage == '"default";r=49;t=1'  # 49 left after the first take, +10 refilled: capped
    store.answer()
    assert limiter.stats()["optimistic"] == {"admitted": 2, "over": 0}


async def test_while_a_take_is_on_its_way_the_same_client_waits_for_it() -> None:
    clock, store = Clock(), ManualStore()
    limiter = limiter_on(store, clock)
    await limiter.acquire(POLICY, "c")
    second = asyncio.ensure_future(limiter.acquire(POLICY, "c"))
    await asyncio.sleep(0)
    assert not second.done()  # one optimistic take at a time per client: the bound
    assert store.flushed == 1  # and the take it waits for is sent without delay
    assert store.answer() == 1
    await asyncio.wait_for(second, 0.5)  # then admitted on credit of a take of its own
    assert len(store.queued) == 1 and limiter.stats()["optimistic"]["admitted"] == 2


async def test_over_quota_answer_refuses_locally_until_retry_then_exact_for_a_window() -> None:
    clock, store = Clock(), ManualStore()
    key = "kensho:rl:default:c"
    store.local.take(key, POLICY.interval_us, 50, 50, 0)  # another replica spent it all
    limiter = limiter_on(store, clock)
    await limiter.acquire(POLICY, "c")  # admitted on credit: the one request over
    store.answer()
    assert limiter.stats()["optimistic"] == {"admitted": 1, "over": 1}
    with pytest.raises(RateLimited) as caught:  # refused here, no round trip
        await limiter.acquire(POLICY, "c")
    assert not store.queued
    headers = caught.value.headers
    assert headers["Retry-After"] == "1" and headers["RateLimit"] == '"default";r=0;t=1'
    assert headers["RateLimit-Policy"] == '"default";q=50;w=50'
    clock.now += 1.0  # the refusal has expired, but a take refused within the window:
    waiting = asyncio.ensure_future(limiter.acquire(POLICY, "c"))
    await asyncio.sleep(0)
    assert not waiting.done() and store.awaited == 1  # exact: the request waits for Redis
    store.answer()
    with pytest.raises(RateLimited):  # still nothing left (the store's time stands still)
        await waiting
    clock.now += POLICY.window  # a window without a refusal: optimistic again
    await asyncio.wait_for(limiter.acquire(POLICY, "c"), 0.5)
    assert len(store.queued) == 1 and limiter.stats()["optimistic"]["admitted"] == 2


async def test_small_bursts_are_never_optimistic() -> None:
    clock, store = Clock(), ManualStore()
    limiter = limiter_on(store, clock)
    request = asyncio.ensure_future(limiter.acquire(Policy("auth", rate=1, burst=10), "c"))
    await asyncio.sleep(0)
    assert not request.done() and store.awaited == 1
    store.answer()
    assert await request == '"auth";r=9;t=1'
    assert limiter.stats()["optimistic"]["admitted"] == 0


async def test_a_failing_background_take_falls_back_to_the_local_quota(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, store = Clock(), ManualStore()
    limiter = limiter_on(store, clock)
    with caplog.at_level(logging.WARNING, logger="kensho.ratelimit"):
        for client in ("a", "b", "c"):
            await limiter.acquire(POLICY, client)
        store.answer(ConnectionError("connection refused"))
    assert limiter.fallback_active and limiter.fallbacks == 1
    assert sum("Redis unreachable" in r.message for r in caplog.records) == 1
    # the admitted requests were counted in the local quota; the next ones are local, exact
    for _ in range(49):
        await limiter.acquire(POLICY, "a")
    with pytest.raises(RateLimited):
        await limiter.acquire(POLICY, "a")
    assert not store.queued and limiter.stats()["takes"]["local"] >= 3


async def test_two_replicas_admit_at_most_the_quota_plus_one_each(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    """Two limiters on one Redis (as two replicas), a quota that barely refills: a new
    client's burst of three times the quota, alternating, gets the quota and at most one
    request more per replica; so does a client that one replica has emptied before the
    other first sees it."""
    a, b = two_replicas(redis_client, redis_prefix)
    policy = Policy("default", rate=0.001, burst=50)

    async def one(limiter: FleetLimiter, client: str) -> bool:
        return await admitted(limiter, policy, client)

    burst = await asyncio.gather(*(one(a if i % 2 else b, "9.9.9.9") for i in range(150)))
    assert 50 <= sum(burst) <= 50 + 2
    serial = [await one(a if i % 2 else b, "8.8.8.8") for i in range(150)]
    assert 50 <= sum(serial) <= 50 + 2
    assert [await one(a, "7.7.7.7") for _ in range(60)].count(True) <= 50 + 1
    late = [await one(b, "7.7.7.7") for _ in range(20)]
    assert late.count(True) <= 1 and late[1:].count(True) == 0  # b: at most its one
    stats = [x.stats()["optimistic"] for x in (a, b)]
    assert sum(s["over"] for s in stats) <= 6 and all(s["admitted"] for s in stats)
    await a.aclose()
    await b.aclose()


async def test_shutdown_sends_what_is_queued_and_waits_for_it(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    limiter = FleetLimiter(prefix=redis_prefix)
    limiter.bind(redis_client)
    for i in range(20):
        await limiter.acquire(POLICY, f"10.0.0.{i}")  # admitted; takes queued, not sent
    await limiter.aclose()
    assert limiter.stats()["takes"]["redis"] == 20  # every take reached Redis and answered
    keys = [f"{redis_prefix}default:10.0.0.{i}" for i in range(20)]
    assert await redis_client.exists(*keys) == 20
    assert limiter._redis is not None and not limiter._redis._running


async def test_shutdown_with_redis_hanging_cancels_the_batch_and_falls_back() -> None:
    started = asyncio.Event()

    class HangingRedis:
        def register_script(self, _script: str) -> Any:
            async def run(**_: Any) -> str:
                started.set()
                await asyncio.Event().wait()
                return ""

            return run

    limiter = FleetLimiter()
    limiter._redis = RedisGcra(HangingRedis())  # type: ignore[arg-type]
    await limiter.acquire(POLICY, "c")
    await started.wait()
    await limiter._redis.aclose(grace=0.01)
    assert not limiter._redis._running
    assert limiter.fallback_active and limiter.stats()["takes"]["local"] == 1


async def test_a_dead_redis_under_optimistic_admission_never_fails_a_request() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = aioredis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=0.5)
    limiter = FleetLimiter(clock=Clock())  # time stands still: Redis is not tried again
    limiter.bind(dead)
    try:
        admitted = [await limiter.acquire(POLICY, f"10.0.0.{i}") for i in range(10)]
        assert len(admitted) == 10  # admitted on credit; the takes fail in the background
        await limiter.aclose()
        assert limiter.fallback_active and limiter.stats()["takes"]["local"] == 10
        for _ in range(49):  # the credit was counted in the local quota
            await limiter.acquire(POLICY, "10.0.0.1")
        with pytest.raises(RateLimited):
            await limiter.acquire(POLICY, "10.0.0.1")
    finally:
        await dead.aclose()


async def test_a_request_gone_mid_take_does_not_wedge_its_client() -> None:
    clock, store = Clock(), ManualStore()
    limiter = limiter_on(store, clock)
    small = Policy("auth", rate=1, burst=10)  # exact: requests wait for their take
    gone = asyncio.ensure_future(limiter.acquire(small, "c"))
    waiting = asyncio.ensure_future(limiter.acquire(small, "c"))
    await asyncio.sleep(0)
    assert store.awaited == 1 and store.flushed == 1  # the second waits for the first's take
    gone.cancel()  # the first client disconnects while its take is in Redis
    with pytest.raises(asyncio.CancelledError):
        await gone
    await asyncio.sleep(0)
    assert store.awaited == 2  # the waiter was woken and sent a take of its own
    store.answer()
    assert await waiting == '"auth";r=8;t=2'  # the gone request's unit lapsed: under, not over


async def test_eviction_keeps_clients_whose_take_is_on_its_way() -> None:
    clock, store = Clock(), ManualStore()
    limiter = FleetLimiter(max_clients=2, clock=clock)
    limiter._redis = store  # type: ignore[assignment]
    for client in ("a", "b", "c"):  # admitted; their takes are still on their way
        await limiter.acquire(POLICY, client)
    # c's arrival evicted the oldest client with no take on its way: c itself (a and b's
    # answers must find their leases)
    assert sorted(client for _, client in limiter._leases) == ["a", "b"]
    store.answer()
    await limiter.acquire(POLICY, "d")
    assert sorted(client for _, client in limiter._leases) == ["b", "d"]  # the oldest went
    await FleetLimiter().aclose()  # not bound to Redis: nothing to wait for


async def test_a_malformed_answer_fails_the_batch_and_falls_back() -> None:
    class ShortRedis:
        def register_script(self, _script: str) -> Any:
            async def run(**_: Any) -> str:
                return "1 0 0"  # three numbers for a take that needs four

            return run

    limiter = FleetLimiter(clock=Clock())
    limiter._redis = RedisGcra(ShortRedis())  # type: ignore[arg-type]
    await limiter.acquire(POLICY, "c")
    await limiter.aclose()
    assert limiter.fallback_active and limiter.stats()["takes"]["local"] == 1
