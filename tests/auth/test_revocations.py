"""`RevocationBus` edges against a Redis that fails on purpose (a fake: we inject its faults);
the happy path runs against the real Redis in test_fleet_sessions.py and tests/fleet."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import pytest
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


class DownRedis:
    """Every subscribe fails (Redis stays down); `tries` is set at the third attempt."""

    def __init__(self) -> None:
        self.subscribes = 0
        self.tries = asyncio.Event()

    def pubsub(self, **kwargs: Any) -> DownRedis:
        return self

    async def subscribe(self, channel: str) -> None:
        self.subscribes += 1
        if self.subscribes >= 3:
            self.tries.set()
        raise RedisConnectionError("connection refused")

    async def aclose(self) -> None:
        pass


async def test_a_long_outage_is_logged_once_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    redis = DownRedis()
    bus = RevocationBus(
        redis, "t", on_revoked=lambda k: None, on_gap=lambda: None, retry_after=0.01
    )
    with caplog.at_level(logging.WARNING, logger="kensho.auth.revocations"):
        bus.start()
        try:
            await asyncio.wait_for(redis.tries.wait(), 10)
        finally:
            await bus.close()
    assert bus.failures >= 3 and not bus.healthy
    assert [r.getMessage() for r in caplog.records] == [
        "session revocations: Redis unavailable (ConnectionError); cached sessions are re-read "
        "from PostgreSQL until it is back"
    ]


class WedgedPubSub:
    """A pub/sub read that ignores cancellation until `released` (a redis-py read may never
    return once cancelled: why `close` asks the listener to stop instead)."""

    def __init__(self) -> None:
        self.reading = asyncio.Event()
        self.released = asyncio.Event()

    def pubsub(self, **kwargs: Any) -> WedgedPubSub:
        return self

    async def subscribe(self, channel: str) -> None:
        pass

    async def get_message(self, **kwargs: Any) -> None:
        self.reading.set()
        while not self.released.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await self.released.wait()

    async def aclose(self) -> None:
        pass


async def test_a_listener_that_will_not_stop_is_abandoned_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    redis = WedgedPubSub()
    bus = RevocationBus(redis, "t", on_revoked=lambda k: None, on_gap=lambda: None)
    bus.start()
    task = bus._task
    assert task is not None
    await asyncio.wait_for(redis.reading.wait(), 10)
    with caplog.at_level(logging.WARNING, logger="kensho.auth.revocations"):
        await bus.close(grace=0.01)  # neither the stop request nor the cancel is heard
    assert "session revocations: the listener did not stop; abandoned" in caplog.text
    assert not task.done()
    redis.released.set()  # let it end (it sees the stop request) so the test leaks no task
    await asyncio.wait_for(task, 10)
    await bus.close()  # closing again is a no-op
