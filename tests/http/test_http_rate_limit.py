"""The per-client token-bucket rate limit (`KENSHO_RATE_LIMIT_RPS`)."""

from __future__ import annotations

from typing import Any

import pytest

from kensho.errors import RateLimited
from kensho.http.middlewares.rate_limit import TokenBucketLimiter


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_the_burst_then_refills_at_the_rate() -> None:
    clock = _Clock()
    limiter = TokenBucketLimiter(rate=2.0, burst=3, clock=clock)
    for _ in range(3):
        limiter.take("a")
    with pytest.raises(RateLimited) as caught:
        limiter.take("a")
    assert caught.value.retry_after == pytest.approx(0.5)
    assert caught.value.headers["Retry-After"] == "1"
    limiter.take("b")  # another client has its own bucket
    clock.now += 0.5  # one token back
    limiter.take("a")
    with pytest.raises(RateLimited):
        limiter.take("a")
    clock.now += 60  # never more than the burst
    for _ in range(3):
        limiter.take("a")
    with pytest.raises(RateLimited):
        limiter.take("a")
    assert limiter.rejected == 3


def test_a_flood_of_distinct_clients_costs_bounded_memory() -> None:
    limiter = TokenBucketLimiter(rate=1.0, burst=1, max_clients=100, clock=_Clock())
    for i in range(10_000):
        limiter.take(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter) == 100


@pytest.mark.parametrize(
    "kw", [{"rate": 0, "burst": 1}, {"rate": -1, "burst": 1}, {"rate": 1, "burst": 0}]
)
def test_nonsense_settings_are_refused(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="rate must be positive"):
        TokenBucketLimiter(**kw)


async def test_over_the_limit_is_a_429_problem_and_probes_are_exempt(make_client: Any) -> None:
    client = await make_client(rate_limit_rps=0.001, rate_limit_burst=2)
    assert (await client.get("/admin/actors")).status == 404  # no admin token: 404, counted
    assert (await client.get("/admin/actors")).status == 404
    limited = await client.get("/admin/actors", headers={"X-Request-ID": "rl-test-1"})
    assert limited.status == 429
    assert limited.content_type == "application/problem+json"
    assert int(limited.headers["Retry-After"]) >= 1
    body = await limited.json()
    assert body["status"] == 429 and body["request_id"] == "rl-test-1"
    for _ in range(5):  # readiness and liveness probes and scrapes are never throttled
        assert (await client.get("/health/live")).status == 200
        assert (await client.get("/metrics")).status == 200


async def test_no_limit_by_default(make_client: Any) -> None:
    client = await make_client()
    for _ in range(150):
        assert (await client.get("/admin/actors")).status == 404
