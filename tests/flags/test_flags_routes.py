"""GET /admin/flags and PUT/DELETE /admin/flags/{key}: auth, audit, validation, Redis."""

from __future__ import annotations

import logging
import socket
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis

from kensho.http import keys
from kensho.http.console_routes import console_state
from kensho.http.flag_routes import MAX_FLAG_BODY
from kensho.http.schemas.flags import FlagListSchema, FlagSchema

from .conftest import AUTH, MakeFlagsApp

FLAG = "/admin/flags/search-ranking"
TEN = {"default_variant": "relevance", "rollout": {"popular-first": 10}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def body_of(resp: Any, status: int) -> Any:
    body = await resp.json(content_type=None)
    assert resp.status == status, body
    return body


async def test_list_shows_every_flag_with_its_source(make_flags_app: MakeFlagsApp) -> None:
    client = await make_flags_app()
    doc = await body_of(await client.get("/admin/flags", headers=AUTH), 200)
    assert FlagListSchema().validate(doc) == {}
    assert doc["redis"] == "up"
    (flag,) = doc["flags"]
    assert flag["key"] == "search-ranking" and flag["source"] == "default"
    assert flag["setting"] == {"enabled": True, "default_variant": "relevance", "rollout": {}}
    assert flag["shares"] == {"relevance": 100.0, "popular-first": 0.0}


async def test_configured_settings_apply_until_overridden(make_flags_app: MakeFlagsApp) -> None:
    client = await make_flags_app(flags=orjson.dumps({"search-ranking": TEN}).decode())
    doc = await body_of(await client.get("/admin/flags", headers=AUTH), 200)
    assert doc["flags"][0]["source"] == "config"
    assert doc["flags"][0]["shares"] == {"relevance": 90.0, "popular-first": 10.0}


async def test_put_stores_for_the_fleet_and_delete_drops_it(
    make_flags_app: MakeFlagsApp,
    redis_client: aioredis.Redis,
    redis_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    client = await make_flags_app()
    flag = await body_of(await client.put(FLAG, json=TEN, headers=AUTH), 200)
    assert FlagSchema().validate(flag) == {}
    assert flag["source"] == "redis" and flag["shares"]["popular-first"] == 10.0
    assert flag["updated_at"]
    stored = orjson.loads(await redis_client.hget(f"{redis_prefix}flags", "search-ranking"))
    assert stored["setting"] == {
        "enabled": True,
        "default_variant": "relevance",
        "rollout": {"popular-first": 10.0},
    }
    audits = [r for r in caplog.records if r.name == "kensho.audit"]
    assert any(
        getattr(r, "action", None) == "flags-set"
        and getattr(r, "outcome", None) == "ok"
        and "popular-first" in getattr(r, "target", "")
        for r in audits
    )
    flag = await body_of(await client.delete(FLAG, headers=AUTH), 200)
    assert flag["source"] == "default"
    assert await redis_client.hexists(f"{redis_prefix}flags", "search-ranking") == 0


async def test_admin_token_is_required(
    make_flags_app: MakeFlagsApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    client = await make_flags_app()
    for method, path in (("GET", "/admin/flags"), ("PUT", FLAG), ("DELETE", FLAG)):
        resp = await client.request(method, path, json=TEN)
        problem = await body_of(resp, 401)
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert problem["request_id"]
        resp = await client.request(method, path, json=TEN, headers={"Authorization": "Bearer x"})
        assert resp.status == 401
    denied = [r for r in caplog.records if getattr(r, "outcome", None) == "denied"]
    assert {getattr(r, "action", None) for r in denied} >= {"flags-list", "flags-set"}


async def test_no_admin_token_means_no_routes(make_flags_app: MakeFlagsApp) -> None:
    client = await make_flags_app(admin_token=None)
    assert (await client.get("/admin/flags", headers=AUTH)).status == 404
    assert (await client.put(FLAG, data=b"{{{", headers=AUTH)).status == 404


@pytest.mark.parametrize(
    ("data", "content_type", "status", "field"),
    [
        (b"{not json", "application/json", 400, None),
        (b'{"default_variant": "relevance"}', "text/plain", 415, None),
        (b"[]", "application/json", 422, "body"),
        (b'"popular-first"', "application/json", 422, "body"),
        (b"{}", "application/json", 422, "default_variant"),
        (b'{"default_variant": "sorted-by-vibes"}', "application/json", 422, "default_variant"),
        (
            b'{"default_variant": "relevance", "rollout": {"popular-first": 100.5}}',
            "application/json",
            422,
            "rollout.popular-first",
        ),
        (
            b'{"default_variant": "relevance", "rollout": {"popular-first": "10"}}',
            "application/json",
            422,
            "rollout.popular-first",
        ),
        (
            b'{"default_variant": "relevance", "rollout": {"popular-first": NaN}}',
            "application/json",
            400,
            None,
        ),
        (
            b'{"default_variant": "relevance", "enabled": "false"}',
            "application/json",
            422,
            "enabled",
        ),
        (
            b'{"default_variant": "relevance", "__proto__": {"admin": true}}',
            "application/json",
            422,
            "__proto__",
        ),
        (
            b'{"default_variant": "<img src=x onerror=alert(1)>"}',
            "application/json",
            422,
            "default_variant",
        ),
        (b'{"default_variant": "relevance\\u0000"}', "application/json", 422, "default_variant"),
        (b"[" * 2000 + b"]" * 2000, "application/json", 400, None),
        (
            b'{"default_variant": "' + b"x" * (MAX_FLAG_BODY + 10) + b'"}',
            "application/json",
            413,
            None,
        ),
    ],
)
async def test_malformed_hostile_and_oversized_bodies_are_problems(
    make_flags_app: MakeFlagsApp,
    redis_client: aioredis.Redis,
    redis_prefix: str,
    data: bytes,
    content_type: str,
    status: int,
    field: str | None,
) -> None:
    client = await make_flags_app()
    resp = await client.put(FLAG, data=data, headers={**AUTH, "Content-Type": content_type})
    problem = await body_of(resp, status)
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    assert problem["status"] == status and problem["request_id"]
    if field is not None:
        assert problem["errors"][0]["field"] == field
    assert await redis_client.hlen(f"{redis_prefix}flags") == 0  # nothing stored


async def test_a_chunked_oversized_body_is_refused(make_flags_app: MakeFlagsApp) -> None:
    client = await make_flags_app()

    async def chunks() -> Any:
        for _ in range(10):
            yield b" " * 1024

    resp = await client.put(
        FLAG, data=chunks(), headers={**AUTH, "Content-Type": "application/json"}
    )
    await body_of(resp, 413)


async def test_unknown_and_hostile_keys_are_404(make_flags_app: MakeFlagsApp) -> None:
    client = await make_flags_app()
    for key in ("no-such-flag", "x" * 5000, "%3Cscript%3E", "search-ranking%00"):
        resp = await client.put(f"/admin/flags/{key}", json=TEN, headers=AUTH)
        await body_of(resp, 404)


async def test_redis_down_serves_configured_values_and_refuses_changes(
    make_flags_app: MakeFlagsApp, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_flags_app(
        url=f"redis://127.0.0.1:{free_port()}/0",
        flags=orjson.dumps({"search-ranking": TEN}).decode(),
    )
    flags = client.app[keys.FLAGS]
    doc = await body_of(await client.get("/admin/flags", headers=AUTH), 200)
    assert doc["redis"] == "down" and doc["flags"][0]["source"] == "config"
    resp = await client.put(FLAG, json={"default_variant": "popular-first"}, headers=AUTH)
    problem = await body_of(resp, 503)
    assert resp.headers["Retry-After"] and "Redis" in problem["detail"]
    for _ in range(3):
        await flags.sync.refresh()
    warnings = [r for r in caplog.records if "flags: Redis unavailable" in r.getMessage()]
    assert len(warnings) == 1  # logged once per outage
    assert flags.variant("search-ranking", "client:x", "relevance") in (
        "relevance",
        "popular-first",
    )
    ready = await body_of(await client.get("/health/ready"), 200)
    assert ready["checks"]["flags"]["status"] == "failing"
    metrics = await (await client.get("/metrics")).text()
    assert "feature_flag_redis_up 0.0" in metrics


async def test_metrics_show_state_and_evaluations(make_flags_app: MakeFlagsApp) -> None:
    client = await make_flags_app()
    await body_of(await client.put(FLAG, json=TEN, headers=AUTH), 200)
    flags = client.app[keys.FLAGS]
    seen = {flags.variant("search-ranking", f"client:{i}", "relevance") for i in range(200)}
    assert seen == {"relevance", "popular-first"}
    text = await (await client.get("/metrics")).text()
    assert 'feature_flag_state{flag="search-ranking",variant="popular-first"} 10.0' in text
    assert 'feature_flag_state{flag="search-ranking",variant="relevance"} 90.0' in text
    assert 'feature_flag_enabled{flag="search-ranking"} 1.0' in text
    assert 'feature_flag_evaluations_total{flag="search-ranking",variant="popular-first"}' in text
    assert "feature_flag_redis_up 1.0" in text
    doc = await body_of(await client.get("/admin/flags", headers=AUTH), 200)
    assert sum(doc["flags"][0]["evaluations"].values()) == 200


async def test_the_console_feed_carries_the_flags(make_flags_app: MakeFlagsApp) -> None:
    client = await make_flags_app()
    await body_of(await client.put(FLAG, json=TEN, headers=AUTH), 200)
    state = console_state(client.app)
    assert state["flags"] == client.app[keys.FLAGS].describe_all()
    assert state["flags"]["flags"][0]["shares"]["popular-first"] == 10.0
