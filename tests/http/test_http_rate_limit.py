"""Rate limits through the envelope: route classes, IETF headers, 429 problems, exemptions,
and the client id taken from trusted proxies only."""

from __future__ import annotations

import re
from typing import Any

from kensho.config import Config
from kensho.http.middlewares.rate_limit import RouteClassLimiter, route_class
from kensho.ratelimit import FleetLimiter

ITEM = r'"[a-z]+"(;[a-z]+=\d+)+'


async def test_over_the_limit_is_a_429_problem_with_headers_and_probes_are_exempt(
    make_client: Any,
) -> None:
    client = await make_client(rate_limit_rps=0.001, rate_limit_burst=2)
    first = await client.get("/admin/actors")  # no admin token: 404, still counted
    assert first.status == 404
    assert first.headers["RateLimit-Policy"] == '"default";q=2;w=2000'
    assert first.headers["RateLimit"] == '"default";r=1;t=1000'
    assert (await client.get("/admin/actors")).status == 404
    limited = await client.get("/admin/actors", headers={"X-Request-ID": "rl-test-1"})
    assert limited.status == 429
    assert limited.content_type == "application/problem+json"
    retry = int(limited.headers["Retry-After"])
    assert 1 <= retry <= 1000
    assert limited.headers["RateLimit-Policy"] == '"default";q=2;w=2000'
    assert limited.headers["RateLimit"] == f'"default";r=0;t={retry}'  # same moment
    body = await limited.json()
    assert body["status"] == 429 and body["request_id"] == "rl-test-1"
    for _ in range(5):  # readiness and liveness probes and scrapes are never throttled
        live = await client.get("/health/live")
        assert live.status == 200 and "RateLimit" not in live.headers
        assert (await client.get("/metrics")).status == 200
    metrics = await (await client.get("/metrics")).text()
    assert 'rate_limit_decisions_total{decision="limited",policy="default"} 1.0' in metrics
    assert "rate_limit_fallback_active 0.0" in metrics


async def test_no_limit_and_no_headers_by_default(make_client: Any) -> None:
    client = await make_client()
    for _ in range(150):
        resp = await client.get("/admin/actors")
        assert resp.status == 404 and "RateLimit" not in resp.headers
    assert "rate_limit_fallback_active 0.0" in await (await client.get("/metrics")).text()


def test_route_classes() -> None:
    assert route_class("/api/search") == "search"
    assert route_class("/api/search/suggest") == "search"
    assert route_class("/api/auth/login") == "auth"
    assert route_class("/admin/actors") == "admin"
    assert route_class("/api/anime/1") == "default"
    assert route_class("/health/ready") is None and route_class("/metrics") is None


def test_classes_without_their_own_policy_share_the_default_quota() -> None:
    fleet = FleetLimiter()
    assert RouteClassLimiter.from_config(Config(), fleet) is None
    only = RouteClassLimiter.from_config(Config(rate_limit_search_rps=2), fleet)
    assert only is not None and set(only.policies) == {"search"}
    both = RouteClassLimiter.from_config(
        Config(rate_limit_rps=10, rate_limit_auth_rps=1, rate_limit_auth_burst=3), fleet
    )
    assert both is not None
    assert both.policies["search"] is both.policies["default"]
    assert both.policies["auth"].header == '"auth";q=3;w=3'


async def test_each_route_class_has_its_own_quota(make_client: Any) -> None:
    client = await make_client(
        rate_limit_rps=0.001,
        rate_limit_burst=50,
        rate_limit_admin_rps=0.001,
        rate_limit_admin_burst=1,
    )
    assert (await client.get("/admin/actors")).status == 404
    admin = await client.get("/admin/actors")
    assert admin.status == 429 and admin.headers["RateLimit-Policy"].startswith('"admin"')
    other = await client.get("/no/such/route")  # the default class still has its quota
    assert other.status == 404 and other.headers["RateLimit"] == '"default";r=49;t=1000'


async def test_per_session_token_quota(make_client: Any) -> None:
    client = await make_client(
        rate_limit_rps=0.001,
        rate_limit_burst=100,
        rate_limit_account_rps=0.001,
        rate_limit_account_burst=2,
    )
    alice = {"Authorization": "Bearer " + "a" * 43}
    bob = {"Authorization": "Bearer " + "b" * 43}
    first = await client.get("/admin/actors", headers=alice)
    assert first.headers["RateLimit-Policy"] == '"default";q=100;w=100000, "account";q=2;w=2000'
    assert re.fullmatch(f"{ITEM}, {ITEM}", first.headers["RateLimit"])
    assert (await client.get("/admin/actors", headers=alice)).status == 404
    refused = await client.get("/admin/actors", headers=alice)
    assert refused.status == 429 and refused.headers["RateLimit-Policy"].startswith('"account"')
    assert (await client.get("/admin/actors", headers=bob)).status == 404  # another session


async def test_clients_behind_a_trusted_proxy_have_their_own_quotas(make_client: Any) -> None:
    client = await make_client(
        rate_limit_rps=0.001, rate_limit_burst=1, trusted_proxies="127.0.0.1, ::1"
    )
    assert (await client.get("/x", headers={"X-Forwarded-For": "198.51.100.1"})).status == 404
    again = await client.get("/x", headers={"X-Forwarded-For": "198.51.100.1"})
    assert again.status == 429
    neighbour = await client.get("/x", headers={"X-Forwarded-For": "198.51.100.2"})
    assert neighbour.status == 404  # same proxy, another client: unaffected
    spoof = await client.get("/x", headers={"X-Forwarded-For": "198.51.100.1, 198.51.100.3"})
    assert spoof.status == 404  # the proxy appended .3: the left part is the client's word


async def test_an_untrusted_peer_cannot_escape_its_quota_with_headers(make_client: Any) -> None:
    client = await make_client(rate_limit_rps=0.001, rate_limit_burst=1, trusted_proxies="10.0.0.1")
    assert (await client.get("/x", headers={"X-Forwarded-For": "198.51.100.1"})).status == 404
    for fake in ("198.51.100.2", "203.0.113.5", "unknown", "\t", "1.1.1.1, 2.2.2.2"):
        spoofed = await client.get(
            "/x", headers={"X-Forwarded-For": fake, "Forwarded": "for=9.9.9.9"}
        )
        assert spoofed.status == 429


async def test_an_account_policy_alone_limits_only_requests_with_a_token(make_client: Any) -> None:
    client = await make_client(rate_limit_account_rps=0.001, rate_limit_account_burst=1)
    token = {"Authorization": "Bearer " + "t" * 43}
    first = await client.get("/x", headers=token)
    assert first.headers["RateLimit-Policy"] == '"account";q=1;w=1000'
    assert (await client.get("/x", headers=token)).status == 429
    for headers in ({}, {"Authorization": "Bearer short"}, {"Authorization": "Basic " + "t" * 44}):
        anonymous = await client.get("/x", headers=headers)
        assert anonymous.status == 404 and "RateLimit" not in anonymous.headers
