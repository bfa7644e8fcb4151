"""Flags across replicas: two `FeatureFlags` on one real Redis, outages, hostile stored values."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
import redis.asyncio as aioredis
from redisproxy import free_port, tcp_proxy

from kensho.flags import SEARCH_RANKING, FeatureFlags, Setting

KEY = SEARCH_RANKING.key
POPULAR_FIRST = "popular-first"
POPULAR = Setting(enabled=True, default_variant="popular-first")

MakeFlags = Callable[..., Awaitable[FeatureFlags]]


async def until(flags: FeatureFlags, condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait for `condition`, checked after each change of `flags`; fail after `seconds`."""
    async with asyncio.timeout(seconds):
        while not condition():
            await flags.sync.next_change()


@pytest.fixture
async def make_flags(redis_url: str, redis_prefix: str) -> AsyncIterator[MakeFlags]:
    made: list[tuple[FeatureFlags, aioredis.Redis]] = []

    async def make(*, url: str | None = None, **kw: Any) -> FeatureFlags:
        client: aioredis.Redis = aioredis.from_url(
            url or redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
        )
        kw.setdefault("refresh_interval", 3600.0)  # only pub/sub, unless a test says otherwise
        flags = FeatureFlags(redis=client, prefix=redis_prefix, **kw)
        await flags.start()
        made.append((flags, client))
        return flags

    yield make
    for flags, client in made:
        await flags.close()
        await client.aclose()


async def test_a_change_on_one_replica_reaches_another_by_pubsub(make_flags: MakeFlags) -> None:
    a, b = await make_flags(), await make_flags()
    assert b.variant(KEY, "client:1", "relevance") == "relevance"
    await a.put(KEY, POPULAR)
    await until(b, lambda: b.source(KEY) == "redis")
    assert b.variant(KEY, "client:1", "relevance") == "popular-first"
    assert b.varies(KEY) is False  # everyone popular-first
    await a.put(
        KEY, Setting(enabled=True, default_variant="relevance", rollout={POPULAR_FIRST: 5000})
    )
    await until(b, lambda: b.setting(SEARCH_RANKING).rollout != {})
    assert b.varies(KEY) is True  # what was memoised is forgotten with the change
    await a.reset(KEY)
    await until(b, lambda: b.source(KEY) == "default")
    assert b.variant(KEY, "client:1", "relevance") == "relevance"
    assert b.varies(KEY) is False


async def test_a_lost_message_is_made_up_by_the_periodic_reread(
    make_flags: MakeFlags, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    b = await make_flags(refresh_interval=0.1)
    doc = {"setting": POPULAR.as_dict(), "updated_at": "2026-11-30T00:00:00Z"}
    await redis_client.hset(f"{redis_prefix}flags", KEY, orjson.dumps(doc))  # no publish
    await until(b, lambda: b.source(KEY) == "redis")
    assert b.describe(KEY)["updated_at"] == "2026-11-30T00:00:00Z"


async def test_a_fresh_replica_starts_with_the_fleets_settings(make_flags: MakeFlags) -> None:
    a = await make_flags()
    await a.put(KEY, POPULAR)
    late = await make_flags()
    assert late.source(KEY) == "redis"  # read at start, before serving anything


@pytest.mark.parametrize(
    "value",
    [
        b"garbage",
        b"[]",
        b'{"setting": {"default_variant": "no-such-variant"}}',
        b'{"setting": "popular-first"}',
        b"x" * 10_000,
    ],
)
async def test_bad_stored_values_are_skipped_and_logged_once(
    make_flags: MakeFlags,
    redis_client: aioredis.Redis,
    redis_prefix: str,
    caplog: pytest.LogCaptureFixture,
    value: bytes,
) -> None:
    await redis_client.hset(f"{redis_prefix}flags", mapping={KEY: value, "from-the-future": b"{}"})
    flags = await make_flags(configured={KEY: POPULAR})
    await flags.sync.refresh()
    assert flags.source(KEY) == "config"
    assert flags.variant(KEY, "client:1", "relevance") == "popular-first"
    ignored = [r for r in caplog.records if "ignored the stored setting" in r.getMessage()]
    assert len(ignored) == 2  # one per bad field, not one per refresh


async def test_redis_lost_and_back(
    make_flags: MakeFlags, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    if urlsplit(redis_url).scheme not in ("redis", "rediss"):
        pytest.skip("needs a TCP Redis")
    caplog.set_level(logging.INFO, logger="kensho.flags")
    port = free_port()
    proxied = f"redis://127.0.0.1:{port}{urlsplit(redis_url).path}"
    direct = await make_flags()
    await direct.put(KEY, POPULAR)
    async with tcp_proxy(port, redis_url):
        flags = await make_flags(url=proxied, configured={KEY: SEARCH_RANKING.builtin()})
        assert flags.sync.up is True and flags.source(KEY) == "redis"
    # the proxy is gone: the next read fails, the configured settings apply, logged once
    await flags.sync.refresh()
    await flags.sync.refresh()
    assert flags.sync.up is False and flags.source(KEY) == "config"
    assert flags.variant(KEY, "client:1", "relevance") == "relevance"
    down = [r for r in caplog.records if "flags: Redis unavailable" in r.getMessage()]
    assert len(down) == 1
    async with tcp_proxy(port, redis_url):
        await flags.sync.refresh()
        assert flags.sync.up is True and flags.source(KEY) == "redis"
        assert any("reachable again" in r.getMessage() for r in caplog.records)


async def test_one_failed_read_keeps_the_overrides_two_drop_them(
    make_flags: MakeFlags, monkeypatch: pytest.MonkeyPatch
) -> None:
    flags = await make_flags(configured={KEY: SEARCH_RANKING.builtin()})
    await flags.put(KEY, POPULAR)
    client = flags.sync._client
    assert client is not None
    real = client.hgetall

    async def slow(*_: Any) -> Any:
        raise TimeoutError("Redis answered late")

    monkeypatch.setattr(client, "hgetall", slow)
    await flags.sync.refresh()
    assert flags.sync.up is True and flags.source(KEY) == "redis"  # a slow answer alone
    await flags.sync.refresh()
    assert flags.sync.up is False and flags.source(KEY) == "config"  # an outage

    # a change is tried anyway: the write itself says Redis answers, and everything is re-read
    monkeypatch.setattr(client, "hgetall", real)
    await flags.put(KEY, Setting(enabled=False, default_variant="popular-first"))
    assert flags.sync.up is True and flags.source(KEY) == "redis"
    assert flags.variant(KEY, "client:1", "x") == "relevance"  # off: the built-in variant
