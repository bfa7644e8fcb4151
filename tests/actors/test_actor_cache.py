"""The cache actor hands invalidations to the loop and answers later: its thread never waits."""

from __future__ import annotations

import asyncio

import pytest

from kensho.actors import Supervisor
from kensho.actors.cache import Invalidate, PurgeExpired, child_spec
from kensho.cache import CacheService
from kensho.config import Config
from kensho.errors import ActorTimeout


class SlowInvalidation(CacheService):
    """An invalidation that waits (as a slow Redis SCAN would) until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def invalidate(self, pattern: str | bytes) -> int:
        await self.release.wait()
        return await super().invalidate(pattern)


async def test_a_slow_invalidation_does_not_hold_the_actor_thread() -> None:
    cache = SlowInvalidation()
    await cache.set("anime:A|doc", b"x", ttl=60)
    loop = asyncio.get_running_loop()
    sup = Supervisor("root", [child_spec(Config(), cache=cache, loop=loop)])
    await sup.start()
    try:
        handle = sup.handle("cache")
        slow = asyncio.create_task(handle.ask(Invalidate("anime:*"), timeout=30))
        with pytest.raises(ActorTimeout):  # the asker gives up …
            await handle.ask(Invalidate("browse:*"), timeout=0.05)
        # … and the actor still answers at once: it waits for nothing
        assert await handle.ask(PurgeExpired(), timeout=5) == 0
        cache.release.set()
        assert await slow == 1
        assert cache.get_cached("anime:A|doc") is None
    finally:
        cache.release.set()
        await sup.stop()
