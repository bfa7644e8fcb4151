"""GCRA arithmetic (local and in Redis), policies' header text, and the fleet limiter's leases,
refusals and Redis fallback, without HTTP."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from kensho.errors import RateLimited
from kensho.ratelimit import FleetLimiter, LocalGcra, Policy, RedisGcra, Take

from .replicas import admitted, two_replicas

#: One Structured Fields item: a quoted policy name, then integer parameters.
ITEM = re.compile(r'^"[a-z]+"(;[a-z]+=\d+)+$')


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_local_gcra_gives_the_burst_then_the_rate() -> None:
    clock = Clock()
    gcra = LocalGcra(clock=clock)
    policy = Policy("default", rate=2.0, burst=3)
    args = (policy.interval_us, policy.burst)
    assert gcra.take("a", *args, 2, 0) == Take(2, 1, 1_000_000, 0)
    assert gcra.take("a", *args, 5, 0).got == 1  # only what is left
    refused = gcra.take("a", *args, 1, 0)
    assert refused.got == 0 and refused.retry_us == 500_000  # one unit per 0.5 s
    assert gcra.take("b", *args, 1, 0).got == 1  # another client, another quota
    clock.now += 0.5
    assert gcra.take("a", *args, 3, 0).got == 1
    clock.now += 60  # never more than the burst
    assert gcra.take("a", *args, 10, 0).got == 3
    assert gcra.take("a", *args, 1, 2).got == 1  # a refund of two leased units, one taken again


def test_local_gcra_memory_is_bounded() -> None:
    clock = Clock()
    gcra = LocalGcra(max_keys=100, clock=clock)
    policy = Policy("default", rate=1.0, burst=5)
    for i in range(5_000):
        gcra.take(f"10.0.{i // 256}.{i % 256}", policy.interval_us, policy.burst, 1, 0)
    assert len(gcra) <= 100


@pytest.mark.parametrize(
    ("rate", "burst", "header"),
    [
        (5, 10, '"default";q=10;w=2'),
        (0.001, 2, '"default";q=2;w=2000'),
        (1000, 1, '"default";q=1;w=1'),
    ],
)
def test_policy_header_syntax(rate: float, burst: int, header: str) -> None:
    policy = Policy("default", rate, burst)
    assert policy.header == header and ITEM.match(policy.header)
    usage = policy.usage_header(3, 1.2)
    assert usage == '"default";r=3;t=2' and ITEM.match(usage)
    assert policy.usage_header(-4, -1) == '"default";r=0;t=0'


@pytest.mark.parametrize(
    "kw", [{"rate": 0, "burst": 1}, {"rate": -1, "burst": 1}, {"rate": 1, "burst": 0}]
)
def test_nonsense_policies_are_refused(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="rate > 0"):
        Policy("default", **kw)
    with pytest.raises(ValueError, match="identifier"):
        Policy('bad"name', 1, 1)


async def test_a_slow_policy_is_exact_per_request_and_refusals_carry_headers() -> None:
    clock = Clock()
    limiter = FleetLimiter(clock=clock)
    policy = Policy("default", rate=5, burst=10)
    assert limiter.lease_cap(policy) == 1  # 5/s refills one unit in a lease's life: no leases
    seen = [await limiter.acquire(policy, "1.2.3.4") for _ in range(10)]
    assert seen[0] == '"default";r=9;t=1' and seen[-1] == '"default";r=0;t=2'
    with pytest.raises(RateLimited) as caught:
        await limiter.acquire(policy, "1.2.3.4")
    headers = caught.value.headers
    assert headers["Retry-After"] == "1"
    assert headers["RateLimit-Policy"] == policy.header
    assert headers["RateLimit"] == '"default";r=0;t=1'
    assert await limiter.acquire(policy, "5.6.7.8")  # a neighbour is unaffected
    clock.now += 0.2
    assert await limiter.acquire(policy, "1.2.3.4")
    assert limiter.stats()["allowed"] == {"default": 12} and limiter.stats()["limited"] == {
        "default": 1
    }


async def test_leases_grow_for_a_busy_client_and_are_refunded_when_left_over() -> None:
    clock = Clock()
    limiter = FleetLimiter(lease_max=8, clock=clock)
    policy = Policy("default", rate=1000, burst=1000)
    assert limiter.lease_cap(policy) == 8
    for _ in range(100):
        await limiter.acquire(policy, "c")
    # leases of 1, 2, 4, then 8: far fewer takes than requests
    assert limiter.local_takes <= 1 + 1 + 1 + 100 // 8 + 1
    taken = limiter.local_takes
    clock.now += 1.0  # the lease expires with units left: they go back at the next take
    await limiter.acquire(policy, "c")
    assert limiter.local_takes == taken + 1


class FlakyStore:
    """A Redis store that fails while `down` (any exception, as a dropped connection does)."""

    def __init__(self) -> None:
        self.down = False
        self.local = LocalGcra()

    def flush(self) -> None:
        """Takes here are never queued."""

    async def take(self, *args: Any) -> Take:
        if self.down:
            raise ConnectionError("connection refused")
        return self.local.take(*args)


async def test_redis_down_falls_back_per_replica_logs_once_and_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    limiter = FleetLimiter(clock=clock)
    store = FlakyStore()
    limiter._redis = store  # type: ignore[assignment]  # the Redis store's interface
    policy = Policy("default", rate=5, burst=3)
    await limiter.acquire(policy, "a")
    store.down = True
    with caplog.at_level(logging.WARNING, logger="kensho.ratelimit"):
        await limiter.acquire(policy, "a")  # not an error: the local quota answers
        await limiter.acquire(policy, "a")
        await limiter.acquire(policy, "a")
        with pytest.raises(RateLimited):  # still limited, by this replica alone
            await limiter.acquire(policy, "a")
        assert limiter.fallback_active and limiter.fallbacks == 1
        clock.now += 5
        for _ in range(3):
            await limiter.acquire(policy, "b")
    assert [r.message for r in caplog.records].count(
        "rate limit: Redis unreachable (ConnectionError); limiting per replica until it is back"
    ) == 1
    store.down = False
    clock.now += 2
    await limiter.acquire(policy, "c")
    assert not limiter.fallback_active and limiter.stats()["takes"]["redis"] >= 2


async def test_two_replicas_share_one_quota_in_redis(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    """Two limiters on one Redis (as two replicas): 40 alternating and 40 parallel requests
    from one client against a quota of 10 that barely refills: exactly 10 get through."""
    a, b = two_replicas(redis_client, redis_prefix)
    policy = Policy("default", rate=0.001, burst=10)

    async def one(limiter: FleetLimiter, client: str) -> bool:
        return await admitted(limiter, policy, client)

    serial = [await one(a if i % 2 else b, "9.9.9.9") for i in range(40)]
    assert sum(serial) == 10
    parallel = await asyncio.gather(*(one(a if i % 2 else b, "8.8.8.8") for i in range(40)))
    assert sum(parallel) == 10
    assert a.redis_takes + b.redis_takes >= 20 and not a.local_takes and not b.local_takes


async def test_the_redis_script_leases_and_refunds(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    store = RedisGcra(redis_client)
    key = redis_prefix + "script"
    first = await store.take(key, 1_000_000, 5, 3, 0)
    assert first.got == 3 and first.free == 2 and 2_900_000 <= first.reset_us <= 3_000_000
    assert (await store.take(key, 1_000_000, 5, 9, 0)).got == 2
    refused = await store.take(key, 1_000_000, 5, 1, 0)
    assert refused.got == 0 and 0 < refused.retry_us <= 1_000_000
    assert (await store.take(key, 1_000_000, 5, 5, 2)).got == 2  # two leased units refunded
    ttl = await redis_client.pttl(key)
    assert 0 < ttl <= 5_000  # the key lapses when the quota is full again


class GatedStore:
    """A Redis store whose takes wait for `gate`, counting them (concurrent callers share one)."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.local = LocalGcra()
        self.takes = 0

    def flush(self) -> None:
        """Takes here are never queued."""

    async def take(self, *args: Any) -> Take:
        self.takes += 1
        await self.gate.wait()
        return self.local.take(*args)


async def test_concurrent_requests_of_one_client_share_one_take() -> None:
    limiter = FleetLimiter(lease_max=8, optimistic=False)
    store = GatedStore()
    limiter._redis = store  # type: ignore[assignment]
    policy = Policy("default", rate=1000, burst=1000)
    await asyncio.wait_for(_release_later(store.gate), 1)
    await limiter.acquire(policy, "c")  # first lease: one unit
    store.gate.clear()
    waiting = [asyncio.ensure_future(limiter.acquire(policy, "c")) for _ in range(5)]
    await asyncio.sleep(0)
    assert store.takes == 2  # five callers, one take in flight
    store.gate.set()
    await asyncio.gather(*waiting)
    assert store.takes <= 4  # leases of 2, then 4: the five fit in two more takes


async def _release_later(gate: asyncio.Event) -> None:
    gate.set()


async def test_bounds_and_odd_inputs() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FleetLimiter(lease_max=0)
    limiter = FleetLimiter(max_clients=10, prefix="p:")
    limiter.bind(None, prefix="q:")
    assert limiter.prefix == "q:"
    policy = Policy("default", rate=1, burst=1)
    for i in range(100):
        await limiter.acquire(policy, f"10.0.0.{i}")
    assert len(limiter) <= 10  # a flood of clients costs bounded memory
    await limiter.acquire(policy, "x" * 10_000)  # a huge client text is hashed into the key
    assert limiter._key(policy, "x" * 10_000).startswith("q:default:")
    assert len(limiter._key(policy, "x" * 10_000)) < 64


async def test_takes_of_one_loop_turn_share_one_round_trip(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    store = RedisGcra(redis_client)
    keys = [f"{redis_prefix}batch:{i}" for i in range(50)]
    taken = await asyncio.gather(*(store.take(k, 1_000_000, 3, 2, 0) for k in keys))
    assert [t.got for t in taken] == [2] * 50 and [t.free for t in taken] == [1] * 50
    assert store.round_trips == 1
    again = await asyncio.gather(*(store.take(k, 1_000_000, 3, 2, 0) for k in keys[:10]))
    assert [t.got for t in again] == [1] * 10 and store.round_trips == 2


async def test_a_failed_batch_fails_each_of_its_takes() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = aioredis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=0.5)
    try:
        store = RedisGcra(dead)
        results = await asyncio.gather(
            *(store.take(f"k{i}", 1000, 1, 1, 0) for i in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, RedisConnectionError) for r in results), results
    finally:
        await dead.aclose()


def test_when_every_remembered_quota_is_in_use_the_oldest_is_forgotten() -> None:
    gcra = LocalGcra(max_keys=2, clock=lambda: 1000.0)  # time stands still: nothing refills
    for key in ("a", "b", "c"):
        assert gcra.take(key, 1_000_000, 5, 1, 0).got == 1
    assert len(gcra) == 2
    assert gcra.take("b", 1_000_000, 5, 1, 0).free == 3  # remembered: its second unit
    assert gcra.take("c", 1_000_000, 5, 1, 0).free == 3
    assert gcra.take("a", 1_000_000, 5, 1, 0).free == 4  # forgotten: a full quota again


async def test_a_batch_cancelled_mid_call_fails_its_takes_and_stays_cancelled() -> None:
    started = asyncio.Event()

    class HangingRedis:
        def register_script(self, _script: str) -> Any:
            async def run(**_: Any) -> str:
                started.set()
                await asyncio.Event().wait()
                return ""

            return run

    store = RedisGcra(HangingRedis())  # type: ignore[arg-type]
    take = asyncio.create_task(store.take("k", 1000, 1, 1, 0))
    await started.wait()
    (call,) = store._running
    call.cancel()  # e.g. the loop shutting down while Redis is slow
    with pytest.raises(ConnectionError):
        await take  # the waiter falls back to its local quota, it is not cancelled itself
    with pytest.raises(asyncio.CancelledError):
        await call


def test_a_sweep_forgets_refilled_quotas_before_any_in_use() -> None:
    now = [1000.0]
    gcra = LocalGcra(max_keys=2, clock=lambda: now[0])
    gcra.take("idle", 1_000_000, 5, 1, 0)
    now[0] += 10  # idle's quota is full again: forgetting it changes nothing
    gcra.take("b", 1_000_000, 5, 1, 0)
    gcra.take("c", 1_000_000, 5, 1, 0)
    assert len(gcra) == 2
    assert gcra.take("b", 1_000_000, 5, 1, 0).free == 3  # in use: kept


@pytest.mark.parametrize("fails", [False, True])
async def test_a_take_whose_request_went_away_is_skipped_when_the_batch_answers(
    fails: bool,
) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    class GatedRedis:
        def register_script(self, _script: str) -> Any:
            async def run(**kw: Any) -> str:
                started.set()
                await release.wait()
                if fails:
                    raise RedisConnectionError("gone")
                return " ".join(["1 0 0 0"] * len(kw["keys"]))

            return run

    store = RedisGcra(GatedRedis())  # type: ignore[arg-type]
    gone = asyncio.create_task(store.take("a", 1000, 1, 1, 0))
    kept = asyncio.create_task(store.take("b", 1000, 1, 1, 0))
    await started.wait()
    gone.cancel()  # its client disconnected while the batch was in Redis
    release.set()
    if fails:
        with pytest.raises(RedisConnectionError):
            await kept
    else:
        assert await kept == Take(1, 0, 0, 0)
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert store.round_trips == 1


async def test_eviction_keeps_a_lease_whose_take_is_in_flight() -> None:
    """Memory is bounded, but the lease of a client mid-take is not the one forgotten: its
    waiting requests would otherwise start a second take of the same quota."""
    limiter = FleetLimiter(max_clients=1, optimistic=False)  # takes that requests wait for
    store = GatedStore()
    limiter._redis = store  # type: ignore[assignment]
    policy = Policy("default", rate=1000, burst=1000)
    busy = asyncio.ensure_future(limiter.acquire(policy, "busy"))
    await asyncio.sleep(0)  # busy's take is in flight
    other = asyncio.ensure_future(limiter.acquire(policy, "other"))  # one client too many
    await asyncio.sleep(0)
    assert len(limiter) == 1 and store.takes == 2
    again = asyncio.ensure_future(limiter.acquire(policy, "busy"))
    await asyncio.sleep(0)
    assert store.takes == 2  # it waits for busy's take in flight: the lease is still there
    store.gate.set()
    await asyncio.gather(busy, other, again)
    assert len(limiter) == 1


class GatedScript:
    """A Redis whose script calls wait for `release`, recording each call's keys."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.release = asyncio.Event()
        self.called = asyncio.Event()

    def register_script(self, _script: str) -> Any:
        async def run(**kw: Any) -> str:
            self.calls.append(kw["keys"])
            self.called.set()
            await self.release.wait()
            return " ".join(["1 0 0 0"] * len(kw["keys"]))

        return run


async def test_takes_asked_while_a_batch_is_on_its_way_go_together_as_the_next() -> None:
    redis = GatedScript()
    store = RedisGcra(redis)  # type: ignore[arg-type]
    first = asyncio.create_task(store.take("a", 1000, 1, 1, 0))
    await redis.called.wait()
    later = [asyncio.create_task(store.take(f"k{i}", 1000, 1, 1, 0)) for i in range(5)]
    for _ in range(5):  # turns pass (enough to send and start a batch): nothing is sent
        await asyncio.sleep(0)
    assert redis.calls == [["a"]] and len(store._queued) == 5
    redis.release.set()
    assert await first == Take(1, 0, 0, 0)
    assert await asyncio.gather(*later) == [Take(1, 0, 0, 0)] * 5
    assert redis.calls == [["a"], [f"k{i}" for i in range(5)]] and store.round_trips == 2


async def test_closing_past_its_grace_fails_queued_and_cancelled_takes_leaving_nothing() -> None:
    redis = GatedScript()  # never released: Redis hangs
    store = RedisGcra(redis)  # type: ignore[arg-type]
    answers: list[Take | Exception] = []
    store.take_soon("a", 1000, 1, 1, 0, answers.append)
    await redis.called.wait()
    store.take_soon("b", 1000, 1, 1, 0, answers.append)  # queued behind the hanging batch
    await store.aclose(grace=0.01)
    assert len(answers) == 2 and all(isinstance(a, ConnectionError) for a in answers)
    assert not store._running and not store._queued and redis.calls == [["a"]]


async def test_a_background_take_waits_for_company_unless_a_request_waits_for_it() -> None:
    redis = GatedScript()
    redis.release.set()
    store = RedisGcra(redis)  # type: ignore[arg-type]
    answered = asyncio.Event()
    store.take_soon("a", 1000, 1, 1, 0, lambda _: None)
    for _ in range(5):  # turns pass: a take nobody waits for is not sent at once
        await asyncio.sleep(0)
    assert redis.calls == []
    store.take_soon("b", 1000, 1, 1, 0, lambda _: answered.set())
    await answered.wait()  # the window closes: both go in one batch
    assert redis.calls == [["a", "b"]]
    redis.called.clear()
    store.take_soon("c", 1000, 1, 1, 0, lambda _: None)
    store.flush()  # a request now waits for it
    await redis.called.wait()
    assert redis.calls[-1] == ["c"]
    await store.aclose()


async def test_background_takes_queued_behind_a_batch_wait_for_company_again() -> None:
    redis = GatedScript()
    store = RedisGcra(redis)  # type: ignore[arg-type]
    store.flush()  # nothing queued: nothing to send
    answered: list[Take | Exception] = []
    done = asyncio.Event()
    store.take_soon("a", 1000, 1, 1, 0, answered.append)
    await redis.called.wait()  # sent when its window closed; now on its way

    def last(answer: Take | Exception) -> None:
        answered.append(answer)
        done.set()

    store.take_soon("b", 1000, 1, 1, 0, last)
    redis.release.set()
    await done.wait()  # after a's answer, b waited its own window, then went alone
    assert redis.calls == [["a"], ["b"]] and answered == [Take(1, 0, 0, 0)] * 2
