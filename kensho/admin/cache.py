"""`CacheAdmin`: drop cache keys matching a pattern here, in Redis and in every replica's L1.

Invalidations go through the cache actor when it is attached to the service (writes go
through the actor, rule 3); without one (tests, tools) the service itself invalidates.
"""

from __future__ import annotations

from kensho.actors.cache import Invalidate
from kensho.actors.handle import ActorHandle
from kensho.cache import CacheService

__all__ = ["CacheAdmin"]


class CacheAdmin:
    """Pattern invalidation over the cache service, through its actor when there is one."""

    def __init__(self, cache: CacheService, handle: ActorHandle | None = None) -> None:
        self.cache = cache
        self.handle = handle

    async def invalidate(self, pattern: str) -> int:
        """How many keys were dropped (locally and in Redis); every replica's L1 follows."""
        if self.handle is not None and self.handle.view is not None:
            return int(await self.handle.ask(Invalidate(pattern)))
        return await self.cache.invalidate(pattern)
