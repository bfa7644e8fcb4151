"""Inputs declared with apigami decorators are validated into problem+json naming each field."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

PROBLEM = "application/problem+json"


async def _problem(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == PROBLEM
    body: dict[str, Any] = await resp.json()
    assert body["status"] == status
    assert body["request_id"] == resp.headers["X-Request-ID"]
    return body


async def test_valid_query_reaches_the_handler(aiohttp_client: Any, app: web.Application) -> None:
    client = await aiohttp_client(app)
    resp = await client.get("/api/anime", params={"limit": "1", "utm_source": "ignored"})
    assert resp.status == 200
    assert len((await resp.json())["items"]) == 1


async def test_malformed_oversized_and_hostile_query_values_are_400(
    aiohttp_client: Any, app: web.Application
) -> None:
    client = await aiohttp_client(app)
    cases = {
        "limit": ["abc", "0", "101", "1e309", "-1", "9" * 500],
        "sort": ["'; DROP TABLE anime;--", "popularity\x00"],
        "type": ["<script>alert(1)</script>"],
        "cursor": ["c" * 513],
        "fields": ["f" * 301],
    }
    for name, values in cases.items():
        for value in values:
            body = await _problem(await client.get("/api/anime", params={name: value}), 400)
            assert [e["field"] for e in body["errors"]] == [name], (name, value)
            assert "<script>" not in json.dumps(body)  # never echoes input back


async def test_body_errors_are_422_naming_fields(aiohttp_client: Any, app: web.Application) -> None:
    client = await aiohttp_client(app)
    body = await _problem(await client.post("/api/auth/login", json={"username": "u"}), 422)
    assert body["errors"] == [{"field": "password", "message": "Missing data for required field."}]
    body = await _problem(
        await client.post("/api/auth/login", json={"username": "u", "password": "p", "admin": 1}),
        422,
    )
    assert [e["field"] for e in body["errors"]] == ["admin"]
    body = await _problem(await client.post("/api/auth/login", json=["u", "p"]), 422)
    assert body["errors"]
    body = await _problem(
        await client.post("/api/auth/login", json={"username": "u" * 255, "password": "p"}), 422
    )
    assert body["errors"][0]["field"] == "username"


async def test_invalid_json_is_400(aiohttp_client: Any, app: web.Application) -> None:
    client = await aiohttp_client(app)
    resp = await client.post(
        "/api/auth/login", data=b'{"username": ', headers={"Content-Type": "application/json"}
    )
    body = await _problem(resp, 400)
    assert "JSON" in body["detail"]


async def test_hostile_body_with_many_unknown_fields_gives_a_bounded_problem(
    aiohttp_client: Any, app: web.Application
) -> None:
    client = await aiohttp_client(app)
    hostile = {f"{'k' * 300}{i}": i for i in range(2000)}
    hostile.update(username="u", password="p")
    body = await _problem(await client.post("/api/auth/login", json=hostile), 422)
    assert len(body["errors"]) == 50
    assert all(len(e["field"]) <= 128 for e in body["errors"])


async def test_handler_errors_still_map_to_problems(
    aiohttp_client: Any, app: web.Application
) -> None:
    client = await aiohttp_client(app)
    resp = await client.post("/api/auth/login", json={"username": "u", "password": "wrong"})
    await _problem(resp, 401)
