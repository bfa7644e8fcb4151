"""The L2 tier when Redis goes away under it: each operation's outage path, the listener's,
the bounded memory of missed invalidations, and a closed tier."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis
from redis.exceptions import TimeoutError as RedisTimeoutError
from redisproxy import free_port, tcp_proxy

from kensho.cache import CacheService, RedisSettings
from kensho.cache.keys import Namespace
from kensho.cache.lru import Entry
from kensho.cache.redis_tier import MAX_PENDING_INVALIDATIONS, RedisTier
from tests.cache.conftest import MakeService


@pytest.fixture
def proxied(redis_url: str) -> tuple[int, str]:
    """A free port and the service URL that reaches the test Redis through it."""
    if urlsplit(redis_url).scheme not in ("redis", "rediss"):
        pytest.skip("needs a TCP Redis")
    port = free_port()
    return port, f"redis://127.0.0.1:{port}{urlsplit(redis_url).path}"


def tier(svc: CacheService) -> RedisTier:
    assert svc.l2 is not None
    return svc.l2


async def connected(
    make_service: MakeService, url: str, **kw: object
) -> tuple[CacheService, RedisTier]:
    svc = await make_service(url=url, redis_probe_interval=3600, **kw)
    l2 = tier(svc)
    assert l2.healthy
    return svc, l2


@pytest.mark.parametrize("operation", ["get", "set", "invalidate"])
async def test_an_outage_under_each_operation_degrades_without_raising(
    make_service: MakeService, redis_url: str, proxied: tuple[int, str], operation: str
) -> None:
    port, url = proxied
    async with tcp_proxy(port, redis_url):
        svc, l2 = await connected(make_service, url)
    # The proxy is gone: the pooled connection breaks on its next command.
    entry = Entry.create(b"v", l2._clock(), 60, 0)
    if operation == "get":
        assert await l2.get(b"k") is None
    elif operation == "set":
        assert await l2.set(b"k", entry) is False
    else:
        assert await l2.invalidate(b"k*", l2.namespace.pattern(b"k*")) == 0
        assert l2._pending == [b"k*"]  # replayed on reconnect
    assert not l2.healthy and l2.errors >= 1 and l2.last_error
    assert svc.health()["status"] == "degraded"
    # Down: calls answer at once without touching Redis.
    errors = l2.errors
    assert await l2.get(b"k") is None and await l2.set(b"k", entry) is False
    assert l2.errors == errors


async def test_the_listener_notices_a_cut_and_a_probe_brings_the_tier_back(
    make_service: MakeService,
    redis_url: str,
    redis_client: aioredis.Redis,
    redis_prefix: str,
    proxied: tuple[int, str],
) -> None:
    port, url = proxied
    reconnects: list[int] = []
    async with tcp_proxy(port, redis_url):
        svc, l2 = await connected(make_service, url)
        listener = l2._listener
        assert listener is not None
        l2._on_reconnect = lambda: reconnects.append(1)
    await listener  # the subscription's connection was cut: the listener marks the tier down
    assert not l2.healthy and "ConnectionError" in (l2.last_error or "")
    async with tcp_proxy(port, redis_url):
        assert await l2.probe() is True
        assert reconnects == [1]
        await svc.set("k", b"v", ttl=60)
        assert await redis_client.exists(redis_prefix + "k") == 1
        await svc.close()


async def test_too_many_missed_invalidations_replay_as_one_full_flush(
    make_service: MakeService,
    redis_url: str,
    redis_client: aioredis.Redis,
    redis_prefix: str,
    proxied: tuple[int, str],
) -> None:
    port, url = proxied
    svc = await make_service(url=url, redis_probe_interval=3600)
    l2 = tier(svc)
    for n in range(MAX_PENDING_INVALIDATIONS + 5):
        raw = f"anime:{n}".encode()
        await l2.invalidate(raw, l2.namespace.pattern(raw))
    assert l2._pending == [] and l2._pending_overflow  # bounded: forgets the list, not the fact
    await redis_client.set(redis_prefix + "other:1", b"x")
    async with tcp_proxy(port, redis_url):
        assert await l2.probe() is True
        assert await redis_client.exists(redis_prefix + "other:1") == 0  # everything went
        assert not l2._pending_overflow
        await svc.close()


async def test_a_closed_tier_stays_down_and_skips_expired_writes(
    make_service: MakeService,
) -> None:
    svc = await make_service()
    l2 = tier(svc)
    expired = Entry.create(b"v", l2._clock() - 120, 60, 0)
    assert await l2.set(b"k", expired) is False  # its Redis TTL would be <= 0
    await svc.close()
    assert await l2.probe() is False


async def test_an_ended_subscription_is_an_outage(make_service: MakeService) -> None:
    svc = await make_service(redis_probe_interval=3600)
    l2 = tier(svc)
    assert l2._pubsub is not None and l2._listener is not None
    await l2._pubsub.unsubscribe()  # as if someone unsubscribed us: invalidations would be missed
    await l2._listener
    assert not l2.healthy and "subscription ended" in (l2.last_error or "")
    assert await l2.probe() is True and l2._listener is not None and not l2._listener.done()


async def test_a_failed_read_with_a_live_subscription_resubscribes_cleanly(
    make_service: MakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = await make_service(redis_probe_interval=3600)
    l2 = tier(svc)
    old_listener = l2._listener

    async def timed_out(*_: object, **__: object) -> bytes:
        raise RedisTimeoutError("pool exhausted")

    monkeypatch.setattr(l2._client, "get", timed_out)
    assert await l2.get(b"k") is None and not l2.healthy
    monkeypatch.undo()
    assert await l2.probe() is True
    assert old_listener is not None and old_listener.cancelled()  # the old one was replaced
    assert l2._listener is not old_listener


async def test_a_subscription_without_confirmation_is_an_outage(
    make_service: MakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = await make_service(redis_probe_interval=3600)
    l2 = tier(svc)
    real_pubsub = l2._client.pubsub

    def unconfirmed() -> object:
        pubsub = real_pubsub()

        async def no_message(**_: object) -> None:
            return None

        pubsub.get_message = no_message  # type: ignore[method-assign,assignment]
        return pubsub

    monkeypatch.setattr(l2._client, "pubsub", unconfirmed)
    l2._down(RedisTimeoutError("forced"))
    assert await l2.probe() is False
    assert "no subscription confirmation" in (l2.last_error or "")


def test_non_message_and_non_bytes_pubsub_items_are_ignored() -> None:
    seen: list[bytes] = []
    l2 = RedisTier(
        RedisSettings("redis://127.0.0.1:1/0"),
        Namespace(b"p:"),
        on_invalidation=seen.append,
        clock=lambda: 0.0,
    )
    l2._handle({"type": "subscribe", "data": 1})
    l2._handle({"type": "message", "data": "text, not bytes"})
    l2._handle({"type": "message", "data": b"other-origin k*"})
    assert seen == [b"k*"]


async def test_the_prober_reconnects_a_tier_that_started_down(
    make_service: MakeService, redis_url: str, proxied: tuple[int, str]
) -> None:
    port, url = proxied
    svc = await make_service(url=url, redis_probe_interval=0.01)
    l2 = tier(svc)
    assert not l2.healthy
    back = asyncio.Event()
    l2._on_reconnect = back.set
    async with tcp_proxy(port, redis_url):
        await asyncio.wait_for(back.wait(), 10)  # the background prober found Redis
        assert l2.healthy and svc.health()["status"] == "up"
        await svc.close()


async def test_a_tier_on_a_shared_client_leaves_the_client_open(redis_url: str) -> None:
    client: aioredis.Redis = aioredis.from_url(redis_url)
    try:
        l2 = RedisTier(
            RedisSettings(redis_url),
            Namespace(b"kensho-test:shared:"),
            on_invalidation=lambda _: None,
            clock=lambda: 0.0,
            client=client,
        )
        await l2.start()
        await l2.close()
        assert await client.ping() is True  # still the owner's to use and close
    finally:
        await client.aclose()
