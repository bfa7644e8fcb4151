"""`RevocationBus` edges against a Redis that fails on purpose (a fake: we inject its faults);
the happy path runs against the real Redis in test_fleet_sessions.py and tests/fleet."""

from __future__ import annotations

import asyncio
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError

from kensho.auth.revocations import RevocationBus

KEY = "a" * 64


class FlakyPubSub:
    def __init__(self, owner: FlakyRedis) -> None:
        self.owner = owner

    async def subscribe(self, channel: str) -> None:
        self.owner.subscribes += 1
        if self.owner.subscribes == 3:
            self.owner.third.set()
        if self.owner.subscribes == 1:
            raise RedisConnectionError("Redis is restarting")

    async def get_message(self, **kwargs: Any) -> dict[str, Any] | None:
        message = await self.owner.messages.get()
        if isinstance(message, Exception):
            raise message
        found: dict[str, Any] = message
        return found

    async def aclose(self) -> None:
        raise RedisConnectionError("already gone")


class FlakyRedis:
    def __init__(self) -> None:
        self.subscribes = 0
        self.third = asyncio.Event()
        self.messages: asyncio.Queue[Any] = asyncio.Queue()

    def pubsub(self, **kwargs: Any) -> FlakyPubSub:
        return FlakyPubSub(self)

    async def publish(self, channel: str, data: bytes) -> int:
        raise RedisConnectionError("down")


async def test_the_listener_survives_outages_and_hostile_messages() -> None:
    redis = FlakyRedis()
    revoked: list[str] = []
    gaps: list[int] = []

    def on_revoked(key: str) -> None:
        revoked.append(key)
        if len(revoked) == 1:
            raise RuntimeError("the actor is restarting")

    bus = RevocationBus(
        redis,
        "t:sessions:revoked",
        on_revoked=on_revoked,
        on_gap=lambda: gaps.append(1),
        retry_after=0.01,
    )
    bus.start()
    try:
        await asyncio.wait_for(bus.subscribed.wait(), 10)  # after one failed subscribe
        assert redis.subscribes == 2 and gaps == [1] and bus.failures == 1
        for message in (
            {"type": "message", "data": b"not-a-hash"},
            {"type": "message", "data": b"\x00" * 64},
            {"type": "pong", "data": KEY.encode()},
            {"type": "message", "data": "str, not bytes"},
            {"type": "message", "data": KEY.encode()},  # on_revoked raises: still listening
            {"type": "message", "data": ("b" * 64).encode()},
        ):
            await redis.messages.put(message)
        await redis.messages.put(RedisConnectionError("connection reset"))
        await asyncio.wait_for(redis.third.wait(), 10)
        await asyncio.wait_for(bus.subscribed.wait(), 10)
        assert revoked == [KEY, "b" * 64] and bus.received == 2
        assert len(gaps) == 2  # every reconnect re-reads every cached session
    finally:
        await bus.close()


async def test_publishing_without_redis_is_refused_quietly() -> None:
    bus = RevocationBus(FlakyRedis(), "t", on_revoked=lambda k: None, on_gap=lambda: None)
    assert not await bus.publish(KEY) and bus.failures == 1
    absent = RevocationBus(None, "t", on_revoked=lambda k: None, on_gap=lambda: None)
    assert not await absent.publish(KEY)
    absent.start()
    assert not absent.healthy
    await absent.close()
