"""The failed-login limiter while Redis is unreachable (house rule 9): no login fails because of
Redis; the limits hold in this process instead. Found by the chaos run (issue 17), where every
login answered 500 while Redis was stopped; issue 13's reservations keep it so."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from kensho.auth.limiter import LoginLimiter, LoginThrottled


@pytest.fixture
async def dead_redis() -> AsyncIterator[aioredis.Redis]:
    """A client for a loopback port nobody listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = aioredis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=0.5)
    yield client
    await client.aclose()


async def test_reservations_pass_and_failures_count_locally_while_redis_is_down(
    dead_redis: aioredis.Redis,
) -> None:
    limiter = LoginLimiter(
        dead_redis, max_failures=3, max_per_address=4, window=60.0, clock=lambda: 1000.0
    )
    for _ in range(3):  # no exception: a login may proceed; then a wrong password
        await limiter.failed(await limiter.reserve("ana@example.com", "10.0.0.1"))
    with pytest.raises(LoginThrottled) as account:
        await limiter.reserve("ana@example.com", "10.0.0.9")  # the account's limit, locally
    assert account.value.scope == "account"
    await limiter.failed(await limiter.reserve("bob@example.com", "10.0.0.1"))
    with pytest.raises(LoginThrottled) as address:
        await limiter.reserve("cy@example.com", "10.0.0.1")  # the address's limit, locally
    assert address.value.scope == "address" and limiter.fallback_active


async def test_a_success_clears_the_local_count_while_redis_is_down(
    dead_redis: aioredis.Redis,
) -> None:
    limiter = LoginLimiter(dead_redis, max_failures=2, window=60.0, clock=lambda: 1000.0)
    await limiter.failed(await limiter.reserve("ana@example.com", "10.0.0.1"))
    await limiter.succeeded(await limiter.reserve("ana@example.com", "10.0.0.2"))
    await limiter.failed(await limiter.reserve("ana@example.com", "10.0.0.3"))
    await limiter.reserve("ana@example.com", "10.0.0.3")  # one failure since the success
