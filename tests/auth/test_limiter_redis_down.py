"""The failed-login limiter while Redis is unreachable (house rule 9): no login fails because of
Redis; the limits hold in this process instead. Found by the chaos run (issue 17), where every
login answered 500 while Redis was stopped; issue 13's reservations keep it so."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redisproc import RedisProcess

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


async def test_an_outage_between_reserve_and_settle_degrades_then_recovers(
    redis_server: RedisProcess, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis goes away after an attempt was reserved there: settling it is best effort (no
    error reaches the login), the switch is logged and counted once, and the first attempt
    after Redis is back is counted fleet-wide again."""
    redis = aioredis.from_url(redis_server.url, socket_connect_timeout=0.5)
    try:
        limiter = LoginLimiter(redis, prefix=redis_prefix, window=60.0)
        ok = await limiter.reserve("a@example.com", "10.0.0.1")
        lost = await limiter.reserve("b@example.com", "10.0.0.1")
        assert (ok.store, lost.store, limiter.stats()) == (
            "redis",
            "redis",
            {"fallback_active": False, "fallbacks": 0},
        )
        redis_server.stop()
        with caplog.at_level(logging.WARNING, logger="kensho.auth.limiter"):
            await limiter.succeeded(ok)  # no exception: the login already succeeded
            await limiter.release(lost)  # nor here: the upstream could not judge it
            assert limiter.stats() == {"fallback_active": True, "fallbacks": 1}
            redis_server.start()
            back = await limiter.reserve("c@example.com", "10.0.0.1")
        assert back.store == "redis"
        assert limiter.stats() == {"fallback_active": False, "fallbacks": 1}
        assert [r.getMessage() for r in caplog.records] == [
            "login limiter: Redis unreachable (ConnectionError); counting failures per replica",
            "login limiter: Redis is back; failures are counted fleet-wide again",
        ]
    finally:
        await redis.aclose()


async def test_without_redis_the_table_is_the_limiter_and_no_fallback() -> None:
    """No Redis configured (a single replica): counted in process, and that is no outage."""
    limiter = LoginLimiter(None, max_failures=1, window=60.0, clock=lambda: 1000.0)
    first = await limiter.reserve("ana@example.com", "10.0.0.1")
    assert first.store == "local"
    with pytest.raises(LoginThrottled):
        await limiter.reserve("ana@example.com", "10.0.0.2")
    assert limiter.stats() == {"fallback_active": False, "fallbacks": 0}


async def test_local_failures_expire_after_the_window() -> None:
    now = [1000.0]
    limiter = LoginLimiter(None, max_failures=2, window=60.0, clock=lambda: now[0])
    for t in (1000.0, 1030.0):
        now[0] = t
        await limiter.failed(await limiter.reserve("ana@example.com", "10.0.0.1"))
    now[0] = 1059.0
    with pytest.raises(LoginThrottled) as locked:
        await limiter.reserve("ana@example.com", "10.0.0.1")
    assert locked.value.retry_after == pytest.approx(1.0)  # the oldest failure ends at 1060
    now[0] = 1060.0  # the first failure is out of the window: one attempt left
    await limiter.failed(await limiter.reserve("ana@example.com", "10.0.0.1"))
    with pytest.raises(LoginThrottled):
        await limiter.reserve("ana@example.com", "10.0.0.1")


async def test_the_local_table_is_bounded_and_forgets_expired_keys_first() -> None:
    now = [0.0]
    limiter = LoginLimiter(
        None, max_failures=1, window=60.0, max_local_keys=3, clock=lambda: now[0]
    )
    await limiter.failed(await limiter.reserve("old@example.com", "10.0.0.1"))
    now[0] = 100.0  # old's keys are past the window; victim's are live
    await limiter.failed(await limiter.reserve("victim@example.com", "10.0.0.2"))
    assert len(limiter._local) == 2  # the expired pair went, the live pair stayed
    with pytest.raises(LoginThrottled):
        await limiter.reserve("victim@example.com", "10.0.0.3")
    # a flood of live keys: the oldest go (an under-count, never unbounded memory)
    for n in range(10):
        await limiter.failed(await limiter.reserve(f"flood-{n}@example.com", f"10.1.0.{n}"))
        assert len(limiter._local) <= 3
    await limiter.reserve("victim@example.com", "10.0.0.3")  # forgotten under the flood
