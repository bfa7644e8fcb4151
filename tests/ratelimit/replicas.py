"""Two fleet limiters on one Redis, as two replicas see it, and one request's outcome."""

from __future__ import annotations

import redis.asyncio as aioredis

from kensho.errors import RateLimited
from kensho.ratelimit.fleet import FleetLimiter
from kensho.ratelimit.policy import Policy

__all__ = ["admitted", "two_replicas"]


def two_replicas(redis_client: aioredis.Redis, prefix: str) -> tuple[FleetLimiter, FleetLimiter]:
    a, b = FleetLimiter(prefix=prefix), FleetLimiter(prefix=prefix)
    a.bind(redis_client)
    b.bind(redis_client)
    return a, b


async def admitted(limiter: FleetLimiter, policy: Policy, client: str) -> bool:
    """Whether `limiter` lets `client` through `policy` once."""
    try:
        await limiter.acquire(policy, client)
    except RateLimited:
        return False
    return True
