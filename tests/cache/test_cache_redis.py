"""CacheService with the real Redis: L2 fill and stale, pattern invalidation across replicas,
pub/sub, Redis down and back, malformed stored values."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis
from redisproxy import free_port, tcp_proxy

from kensho.cache import CacheService
from kensho.cache.lru import Entry
from kensho.cache.redis_tier import decode_entry, encode_entry

if TYPE_CHECKING:
    from tests.cache.conftest import FakeClock, MakeService


class Loader:
    def __init__(self, value: bytes = b"loaded") -> None:
        self.value = value
        self.calls = 0

    async def __call__(self) -> bytes:
        self.calls += 1
        return self.value


def invalidation_seen(svc: CacheService, pattern: bytes) -> asyncio.Future[bytes]:
    """A future completed when `svc` has applied a remote invalidation of `pattern`."""
    fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def listener(p: bytes) -> None:
        if p == pattern and not fut.done():
            fut.set_result(p)

    svc.add_invalidation_listener(listener)
    return fut


async def test_entry_codec_round_trip_and_garbage() -> None:
    e = Entry(b"\x00value", 1.0, 2.0, 3.0)
    assert decode_entry(encode_entry(e)) == e
    assert decode_entry(b"short") is None
    assert decode_entry(encode_entry(Entry(b"", 5.0, 2.0, 3.0))) is None  # deadlines out of order
    assert decode_entry(b"\x7f\xf8" + bytes(22)) is None  # NaN


async def test_l2_serves_another_replica(make_service: MakeService, clock: FakeClock) -> None:
    a = await make_service(clock=clock)
    b = await make_service(clock=clock)
    await a.set("anime:1", b"payload", ttl=60)
    assert await b.get("anime:1") == b"payload"
    assert b.stats()["lookups"]["l2"] == 1
    assert await b.get("anime:1") == b"payload"  # now from b's L1
    assert b.stats()["lookups"]["l1"] == 1


async def test_l2_ttl_uses_stored_timestamps(make_service: MakeService, clock: FakeClock) -> None:
    a = await make_service(clock=clock)
    b = await make_service(clock=clock)
    await a.set("k", b"v", ttl=10)
    clock.advance(11)  # Redis still holds the key, but the stored fresh-until has passed
    assert await b.get("k") is None


async def test_single_flight_across_l2_fill(make_service: MakeService) -> None:
    a = await make_service()
    b = await make_service()
    loader = Loader()
    results = await asyncio.gather(*(a.get_or_load("cold", loader, 60) for _ in range(100)))
    assert set(results) == {b"loaded"} and loader.calls == 1
    assert await b.get_or_load("cold", loader, 60) == b"loaded"
    assert loader.calls == 1  # b found it in L2


async def test_stale_from_l2_is_served_and_refreshed_once(
    make_service: MakeService, clock: FakeClock
) -> None:
    a = await make_service(clock=clock)
    b = await make_service(clock=clock)
    await a.set("k", b"old", ttl=10, stale_ttl=100)
    clock.advance(50)
    loader = Loader(b"new")
    served = await asyncio.gather(*(b.get_or_load("k", loader, 10, 100) for _ in range(10)))
    assert served == [b"old"] * 10
    await b.wait_idle()
    assert loader.calls == 1
    assert await a.get("k") is not None  # the refresh reached L2...
    a.l1.clear()
    assert await a.get("k") == b"new"  # ...with the new value


async def test_invalidation_by_pattern_reaches_other_replica(make_service: MakeService) -> None:
    a = await make_service()
    b = await make_service()
    for k in ("anime:1", "anime:2", "anime:[x]", "episode:1"):
        await a.set(k, b"v", ttl=60)
        assert await b.get(k) == b"v"  # now in b's L1
    seen = invalidation_seen(b, b"anime:*")
    removed = await a.invalidate("anime:*")
    assert removed == 6  # three in a's L1, three in Redis
    assert await asyncio.wait_for(seen, 5) == b"anime:*"
    assert b.l1.peek(b.settings.prefix.encode() + b"anime:1") is None
    assert await b.get("anime:2") is None and await b.get("anime:[x]") is None
    assert await b.get("episode:1") == b"v"
    assert b.stats()["remote_invalidations"] == 1


async def test_glob_metacharacters_do_not_widen_l2_invalidation(
    make_service: MakeService, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    a = await make_service()
    for k in ("a[1]", "a1", "a?", "ab", "a\\*"):
        await a.set(k, b"v", ttl=60)
    await a.invalidate("a[1]")
    await a.invalidate("a?")
    left = {k async for k in redis_client.scan_iter(match=redis_prefix + "*")}
    assert left == {(redis_prefix + k).encode() for k in ("a1", "ab", "a\\*")}


async def test_scan_unlink_in_batches(
    make_service: MakeService, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    a = await make_service(redis_scan_count=50)
    async with redis_client.pipeline(transaction=False) as pipe:
        for i in range(1200):
            pipe.set(f"{redis_prefix}bulk:{i}", b"x")
        pipe.set(f"{redis_prefix}keep", b"x")
        await pipe.execute()
    assert await a.invalidate("bulk:*") == 1200
    left = [k async for k in redis_client.scan_iter(match=redis_prefix + "*")]
    assert left == [f"{redis_prefix}keep".encode()]


async def test_hostile_pubsub_messages_do_not_kill_the_listener(
    make_service: MakeService, redis_client: aioredis.Redis
) -> None:
    a = await make_service()
    b = await make_service()
    assert b.l2 is not None
    await b.set("x", b"v", ttl=60)
    for junk in (b"", b"no-space", b"origin " + b"*" * 5000, b"\xff\xfe \xff"):
        await redis_client.publish(b.l2.channel, junk)
    seen = invalidation_seen(b, b"x")
    await a.invalidate("x")
    assert await asyncio.wait_for(seen, 5) == b"x"
    assert await b.get("x") is None
    assert b.health()["status"] == "up"
    assert b.stats()["remote_invalidations"] == 2  # x and the legal b"\xff"; the rest dropped


async def test_malformed_l2_value_is_a_miss(
    make_service: MakeService, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    a = await make_service()
    await redis_client.set(redis_prefix + "k", b"garbage")
    loader = Loader()
    assert await a.get_or_load("k", loader, 60) == b"loaded"
    assert loader.calls == 1
    assert a.l2 is not None and a.l2.corrupt == 1


async def test_redis_down_l1_only_and_degraded(make_service: MakeService) -> None:
    svc = await make_service(url=f"redis://127.0.0.1:{free_port()}/0")
    assert svc.health()["status"] == "degraded" and svc.health()["l2"] == "down"
    assert svc.ready() is True
    loader = Loader()
    assert await svc.get_or_load("k", loader, 60) == b"loaded"
    assert await svc.get_or_load("k", loader, 60) == b"loaded"
    assert loader.calls == 1
    await svc.set("j", b"v", ttl=60)
    assert await svc.get("j") == b"v"
    assert await svc.invalidate("*") == 2
    stats = svc.stats()
    assert stats["l2"] == "down" and stats["l2_errors"] >= 1
    assert "l2_error" in svc.health()


async def test_probe_reconnects_and_replays_invalidations(
    make_service: MakeService, redis_url: str, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    if urlsplit(redis_url).scheme not in ("redis", "rediss"):
        pytest.skip("needs a TCP Redis")
    port = free_port()
    svc = await make_service(
        url=f"redis://127.0.0.1:{port}{urlsplit(redis_url).path}", redis_probe_interval=3600
    )
    assert svc.l2 is not None and not svc.l2.healthy
    await svc.set("local", b"v", ttl=60)
    await redis_client.set(redis_prefix + "anime:1", b"stale in L2")
    assert await svc.invalidate("anime:*") == 0  # remembered, Redis is down
    async with tcp_proxy(port, redis_url):
        assert await svc.l2.probe() is True
        assert svc.health()["status"] == "up"
        assert await redis_client.exists(redis_prefix + "anime:1") == 0  # replayed
        assert len(svc.l1) == 0  # invalidations may have been missed: L1 starts afresh
        await svc.set("k", b"v", ttl=60)
        assert await redis_client.exists(redis_prefix + "k") == 1
        await svc.close()


class HeldUnlink:
    """Holds the L2 SCAN+UNLINK of an invalidation until released (the race window)."""

    def __init__(self, svc: CacheService) -> None:
        assert svc.l2 is not None
        self.original = svc.l2._unlink
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        svc.l2._unlink = self  # type: ignore[method-assign]

    async def __call__(self, compiled: object) -> int:
        self.entered.set()
        await self.release.wait()
        return await self.original(compiled)  # type: ignore[arg-type]


async def test_a_read_during_an_invalidation_cannot_bring_the_old_value_back(
    make_service: MakeService,
) -> None:
    svc = await make_service()
    await svc.set("anime:1", b"old", ttl=60)
    svc.l1.clear()  # only Redis has it now, as on a replica that never read it
    held = HeldUnlink(svc)
    invalidation = asyncio.create_task(svc.invalidate("anime:*"))
    await held.entered.wait()
    # L1 has been dropped, Redis still has the old value: a read fills L1 from it
    assert await svc.get("anime:1") == b"old"
    held.release.set()
    assert await invalidation >= 1
    assert svc.get_cached("anime:1") is None
    assert await svc.get("anime:1") is None
    assert svc.l2 is not None and await svc.l2.get(svc.stored_key("anime:1")) is None


async def test_a_load_that_read_l2_before_an_invalidation_does_not_write_after_it(
    make_service: MakeService, clock: FakeClock
) -> None:
    svc = await make_service(clock=clock)
    await svc.set("anime:1", b"old", ttl=1, stale_ttl=60)
    svc.l1.clear()
    clock.advance(2)  # stale in L2: served, and the load goes on to refresh it
    gate = asyncio.Event()
    started = asyncio.Event()

    async def loader() -> bytes:
        started.set()
        await gate.wait()
        return b"from-before"

    assert await svc.get_or_load("anime:1", loader, ttl=60) == b"old"
    await started.wait()
    await svc.invalidate("anime:*")
    gate.set()
    await svc.wait_idle()
    assert svc.stats()["discarded_loads"] == 1
    assert svc.get_cached("anime:1") is None
    assert svc.l2 is not None and await svc.l2.get(svc.stored_key("anime:1")) is None


async def test_a_read_from_l2_that_an_invalidation_overtook_is_not_kept(
    make_service: MakeService,
) -> None:
    svc = await make_service()
    await svc.set("anime:1", b"old", ttl=60)
    svc.l1.clear()
    assert svc.l2 is not None
    original = svc.l2.get
    entered, release = asyncio.Event(), asyncio.Event()

    async def held_get(key: bytes) -> Entry | None:
        found = await original(key)  # read before the invalidation …
        entered.set()
        await release.wait()  # … and handed back after it
        return found

    svc.l2.get = held_get  # type: ignore[method-assign]
    read = asyncio.create_task(svc.get("anime:1"))
    await entered.wait()
    await svc.invalidate("anime:*")
    release.set()
    assert await read == b"old"  # the caller asked before the invalidation
    assert svc.get_cached("anime:1") is None  # but it is not kept
    await svc.start()  # a second start starts nothing twice
