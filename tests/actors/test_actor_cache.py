"""The cache actor hands invalidations to the loop and answers later: its thread never waits."""

from __future__ import annotations

import asyncio

import pytest

from kensho.actors import Supervisor
from kensho.actors.cache import Attach, Invalidate, PurgeExpired, child_spec
from kensho.cache import CacheService
from kensho.config import Config
from kensho.errors import ActorTimeout, ServiceUnavailable


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


async def test_an_unattached_cache_actor_says_so_until_attached() -> None:
    sup = Supervisor("root", [child_spec(Config())])
    await sup.start()
    cache = CacheService()
    try:
        handle = sup.handle("cache")
        assert handle.view is None and handle.summary() == {"attached": False}
        with pytest.raises(ServiceUnavailable, match="not attached"):
            await handle.ask(Invalidate("anime:*"))
        await handle.ask(Attach(cache, asyncio.get_running_loop()))
        assert handle.view == cache.get_cached  # the hot path reads the service directly
        await cache.set("anime:1", b"x", ttl=60)
        assert await handle.ask(Invalidate("anime:*")) == 1
        assert handle.summary()["attached"] is True
        assert handle.summary()["admin_invalidations"] == 1
        with pytest.raises(TypeError, match="CacheActor cannot handle str"):
            await handle.ask("not a message")
    finally:
        await sup.stop()
        await cache.close()
