"""The failed-login limiter while Redis is unreachable (house rule 9): no login fails because of
Redis; the limit holds in this process instead. Found by the chaos run (issue 17), where every
login answered 500 while Redis was stopped."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from kensho.auth.limiter import LoginLimiter
from kensho.errors import RateLimited


@pytest.fixture
async def dead_redis() -> AsyncIterator[aioredis.Redis]:
    """A client for a loopback port nobody listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = aioredis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=0.5)
    yield client
    await client.aclose()


async def test_checks_pass_and_failures_count_locally_while_redis_is_down(
    dead_redis: aioredis.Redis,
) -> None:
    limiter = LoginLimiter(dead_redis, max_failures=3, window=60.0, clock=lambda: 1000.0)
    await limiter.check("ana@example.com", "10.0.0.1")  # no exception: a login may proceed
    for _ in range(3):
        await limiter.failure("ana@example.com", "10.0.0.1")
    with pytest.raises(RateLimited):
        await limiter.check("ana@example.com", "10.0.0.9")  # the username's limit, locally
    with pytest.raises(RateLimited):
        await limiter.check("bob@example.com", "10.0.0.1")  # the address's limit, locally
    assert limiter.redis_errors >= 5


async def test_a_success_clears_the_local_count_while_redis_is_down(
    dead_redis: aioredis.Redis,
) -> None:
    limiter = LoginLimiter(dead_redis, max_failures=2, window=60.0, clock=lambda: 1000.0)
    await limiter.failure("ana@example.com", "10.0.0.1")
    await limiter.failure("ana@example.com", "10.0.0.2")
    await limiter.success("ana@example.com")
    await limiter.check("ana@example.com", "10.0.0.3")
