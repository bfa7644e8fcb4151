"""Failed-login throttling (OWASP): per account whoever sends, per address much higher, the
attempt reserved before the upstream call, outages not counted, Redis down survived, audited."""

from __future__ import annotations

import asyncio
import secrets
import socket
from typing import Any

import pytest
import redis.asyncio as aioredis
from redisproc import RedisProcess

from auth.kit import DEMO, FREE, kensho_app
from kensho.auth.limiter import LoginLimiter, LoginThrottled
from kensho.store.pool import fetch_all

pytestmark = pytest.mark.usefixtures("redis_client")

PROXY = {"trusted_proxies": "127.0.0.1, ::1"}


def via(address: str) -> dict[str, str]:
    """Headers of a request forwarded by the (trusted) local proxy for `address`."""
    return {"X-Forwarded-For": address}


async def post_login(kit: Any, who: tuple[str, str], address: str) -> Any:
    return await kit.client.post(
        "/api/auth/login", json={"username": who[0], "password": who[1]}, headers=via(address)
    )


async def audit_rows(db_pool: Any, username: str) -> list[tuple[Any, ...]]:
    return await fetch_all(
        db_pool,
        "SELECT event, client_address, detail FROM auth_audit WHERE username = %s ORDER BY id",
        (username,),
    )


def victim() -> str:
    return f"victim-{secrets.token_hex(3)}@kensho.dev"


async def test_an_account_locks_for_everyone_and_its_neighbours_do_not(
    make_kit: Any, db_pool: Any
) -> None:
    user = victim()
    async with make_kit(login_max_failures=3, **PROXY) as kit:
        for i in range(3):  # three failures from three addresses
            assert (await post_login(kit, (user, "wrong"), f"198.51.100.{i}")).status == 401
        for address in ("198.51.100.0", "203.0.113.77"):  # whoever sends them
            limited = await post_login(kit, (user, "wrong"), address)
            assert limited.status == 429
            assert limited.content_type == "application/problem+json"
            assert 1 <= int(limited.headers["Retry-After"]) <= 900
        # another account at the very same address is not affected
        assert (await post_login(kit, DEMO, "198.51.100.0")).status == 200
    rows = await audit_rows(db_pool, user)
    assert [r[0] for r in rows] == ["failure"] * 3 + ["rate_limited"] * 2
    assert [r[1] for r in rows[-2:]] == ["198.51.100.0", "203.0.113.77"]  # the client ids
    assert rows[-1][2] == "account locked"


async def test_a_correct_password_clears_the_accounts_failures(make_kit: Any) -> None:
    async with make_kit(login_max_failures=3, **PROXY) as kit:
        for _ in range(2):
            assert (await post_login(kit, (FREE[0], "nope"), "198.51.100.9")).status == 401
        assert (await post_login(kit, FREE, "198.51.100.9")).status == 200
        for _ in range(2):
            assert (await post_login(kit, (FREE[0], "nope"), "198.51.100.9")).status == 401
        assert (await post_login(kit, FREE, "198.51.100.9")).status == 200


async def test_an_address_has_a_much_higher_limit_of_its_own(make_kit: Any, db_pool: Any) -> None:
    async with make_kit(login_max_failures=2, login_max_failures_per_address=4, **PROXY) as kit:
        users = [victim() for _ in range(5)]
        for user in users[:4]:  # credential stuffing: one guess per account
            assert (await post_login(kit, (user, "123456"), "192.0.2.66")).status == 401
        stuffed = await post_login(kit, (users[4], "123456"), "192.0.2.66")
        assert stuffed.status == 429
        assert (await post_login(kit, DEMO, "192.0.2.66")).status == 429  # the address waits
        assert (await post_login(kit, DEMO, "192.0.2.67")).status == 200  # another does not
    assert (await audit_rows(db_pool, users[4]))[0][1:] == ("192.0.2.66", "address locked")


async def test_parallel_guesses_cannot_pass_the_limit(make_kit: Any) -> None:
    user = victim()
    async with make_kit(login_max_failures=3, **PROXY) as kit:
        answers = await asyncio.gather(
            *(post_login(kit, (user, f"guess-{i}"), f"198.51.100.{i}") for i in range(20))
        )
        statuses = sorted(a.status for a in answers)
    assert statuses == [401] * 3 + [429] * 17


async def test_an_upstream_outage_is_not_a_failed_password(make_kit: Any) -> None:
    user = victim()
    async with make_kit(login_max_failures=2, **PROXY) as kit:
        await kit.fault(path_prefix="/auth/v1/token", status=503)
        for _ in range(5):
            down = await post_login(kit, (user, "whatever"), "198.51.100.5")
            assert down.status in (502, 503, 504), down.status
        await kit.clear_faults()
        for _ in range(2):  # the outage used none of the account's failures
            assert (await post_login(kit, (user, "wrong"), "198.51.100.5")).status == 401
        assert (await post_login(kit, (user, "wrong"), "198.51.100.5")).status == 429


def _dead_redis() -> aioredis.Redis:
    """A client for a port where nothing listens (a Redis that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return aioredis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=0.5)


async def test_redis_down_logins_work_and_failures_count_per_replica() -> None:
    redis = _dead_redis()
    try:
        limiter = LoginLimiter(redis, max_failures=2, max_per_address=10)
        ok = await limiter.reserve("someone@x", "1.2.3.4")
        assert ok.store == "local" and limiter.fallback_active
        await limiter.succeeded(ok)
        for _ in range(2):
            await limiter.failed(await limiter.reserve("target@x", "1.2.3.4"))
        with pytest.raises(LoginThrottled) as caught:
            await limiter.reserve("TARGET@x ", "5.6.7.8")  # same account, any address
        assert caught.value.scope == "account"
        await limiter.release(await limiter.reserve("other@x", "1.2.3.4"))  # neighbour: fine
    finally:
        await redis.aclose()


async def test_a_redis_outage_mid_test_keeps_logins_working(
    aiohttp_client: Any, db_pool: Any, redis_server: RedisProcess, redis_prefix: str
) -> None:
    user = victim()
    async with kensho_app(
        aiohttp_client,
        db_pool,
        redis_server.url,
        redis_prefix,
        login_max_failures=2,
        ready_cache_seconds=0,
        **PROXY,
    ) as kit:
        assert (await post_login(kit, (user, "bad"), "198.51.100.8")).status == 401
        assert await login_limiter_state(kit) == (0.0, 0.0, "ok", "ready")
        redis_server.stop()
        assert (await post_login(kit, DEMO, "198.51.100.8")).status == 200  # not a 500
        for _ in range(2):  # counted on this replica now (Redis's one failure is gone with it)
            assert (await post_login(kit, (user, "bad"), "198.51.100.8")).status == 401
        assert (await post_login(kit, (user, "bad"), "198.51.100.8")).status == 429
        # degraded (still ready: 200), on /health/ready and on /metrics
        assert await login_limiter_state(kit) == (1.0, 1.0, "failing", "degraded")

        redis_server.start()  # the next attempt goes to Redis again
        assert (await post_login(kit, (victim(), "bad"), "198.51.100.8")).status == 401
        assert await login_limiter_state(kit) == (0.0, 1.0, "ok", "ready")


async def login_limiter_state(kit: Any) -> tuple[float, float, str, str]:
    """(`login_limiter_fallback_active`, `login_limiter_fallbacks_total`, the readiness
    check's status, readiness's status), asserting readiness answers 200 (never unready)."""
    metrics = await (await kit.client.get("/metrics")).text()
    values = dict(
        line.split(" ")
        for line in metrics.splitlines()
        if line.startswith(("login_limiter_fallback_active ", "login_limiter_fallbacks_total "))
    )
    resp = await kit.client.get("/health/ready")
    ready = await resp.json()
    assert resp.status == 200, ready
    check = ready["checks"]["login_limiter"]
    assert check["required"] is False
    return (
        float(values["login_limiter_fallback_active"]),
        float(values["login_limiter_fallbacks_total"]),
        check["status"],
        ready["status"],
    )
