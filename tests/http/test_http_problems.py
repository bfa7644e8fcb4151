"""Every error leaves as application/problem+json (RFC 9457), and a 500 leaks nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from httpkit import LogCapture, MakeClient, assert_problem

from kensho.errors import CircuitOpen, ValidationFailed
from kensho.http.bodies import read_json
from kensho.http.middlewares.timeout import deadline
from kensho.http.routing import Routes

PROBLEM = "application/problem+json"
SECRET = "postgres://kensho:hunter2@db.internal/prod"


def _routes(app: web.Application) -> None:
    never = asyncio.Event()

    async def echo(request: web.Request) -> web.Response:
        body = await read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("n"), int):
            raise ValidationFailed.field("n", "must be an integer")
        return web.json_response(body)

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError(f"cannot connect to {SECRET}")

    @deadline(0.05)
    async def slow(request: web.Request) -> web.Response:
        await never.wait()
        return web.Response()

    async def default_slow(request: web.Request) -> web.Response:
        await never.wait()
        return web.Response()

    async def breaker(request: web.Request) -> web.Response:
        raise CircuitOpen("Crunchyroll is failing; try again soon.", retry_after=2.2)

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/health/live")

    Routes(app).post("/t/echo", echo)
    Routes(app).get("/t/boom", boom)
    Routes(app).get("/t/slow", slow)
    Routes(app).get("/t/default-slow", default_slow)
    Routes(app).get("/t/breaker", breaker)
    Routes(app).get("/t/moved", moved)


async def _problem(resp: Any) -> dict[str, Any]:
    assert resp.headers["Content-Type"] == PROBLEM
    assert resp.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = await resp.json(content_type=PROBLEM)
    assert body["request_id"] == resp.headers["X-Request-ID"]
    return body


async def test_unknown_route_is_404_problem(make_client: MakeClient) -> None:
    client = await make_client()
    resp = await client.get("/no/such/path?q=1")
    assert resp.status == 404
    body = await _problem(resp)
    assert_problem(body, 404, "not-found")
    assert body["instance"] == "/no/such/path"


async def test_wrong_method_is_405_with_allow(make_client: MakeClient) -> None:
    client = await make_client()
    resp = await client.delete("/health/live")
    assert resp.status == 405
    assert "GET" in resp.headers["Allow"]
    assert_problem(await _problem(resp), 405, "method-not-allowed")


async def test_oversized_body_is_413(make_client: MakeClient) -> None:
    client = await make_client(_routes, client_max_size=1024)
    resp = await client.post(
        "/t/echo",
        data=b'{"n": "' + b"x" * 4096 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert resp.status == 413
    assert_problem(await _problem(resp), 413, "payload-too-large")


async def test_wrong_media_type_is_415(make_client: MakeClient) -> None:
    client = await make_client(_routes)
    resp = await client.post("/t/echo", data=b"n=1", headers={"Content-Type": "text/plain"})
    assert resp.status == 415
    assert_problem(await _problem(resp), 415, "unsupported-media-type")


async def test_malformed_json_is_400(make_client: MakeClient) -> None:
    client = await make_client(_routes)
    for raw in (b"{", b"\xff\xfe", b'{"n": 1}}', b"NaN"):
        resp = await client.post("/t/echo", data=raw, headers={"Content-Type": "application/json"})
        assert resp.status == 400, raw
        assert_problem(await _problem(resp), 400, "bad-request")


async def test_invalid_field_is_422_with_errors(make_client: MakeClient) -> None:
    client = await make_client(_routes)
    resp = await client.post("/t/echo", json={"n": "seven"})
    assert resp.status == 422
    body = await _problem(resp)
    assert_problem(body, 422, "validation")
    assert body["errors"] == [{"field": "n", "message": "must be an integer"}]
    ok = await client.post("/t/echo", json={"n": 7})
    assert ok.status == 200 and (await ok.json()) == {"n": 7}


async def test_500_never_leaks_and_logs_traceback(
    make_client: MakeClient, logs: LogCapture
) -> None:
    client = await make_client(_routes)
    resp = await client.get("/t/boom", headers={"X-Request-ID": "boom-1"})
    assert resp.status == 500
    text = await resp.text()
    assert "hunter2" not in text and "RuntimeError" not in text and "Traceback" not in text
    assert_problem(await _problem(resp), 500, "internal", "boom-1")
    errors = [r for r in logs.records() if r["level"] == "ERROR"]
    assert errors and errors[0]["request_id"] == "boom-1"
    assert "RuntimeError" in errors[0]["exc"] and "Traceback" in errors[0]["exc"]


async def test_route_deadline_is_504(make_client: MakeClient) -> None:
    client = await make_client(_routes)
    resp = await client.get("/t/slow")
    assert resp.status == 504
    body = await _problem(resp)
    assert_problem(body, 504, "timeout")
    assert "0.05" in body["detail"]


async def test_default_deadline_comes_from_config(make_client: MakeClient) -> None:
    client = await make_client(_routes, request_timeout=0.05)
    resp = await client.get("/t/default-slow")
    assert resp.status == 504
    assert_problem(await _problem(resp), 504, "timeout")


async def test_taxonomy_error_keeps_slug_and_retry_after(make_client: MakeClient) -> None:
    client = await make_client(_routes)
    resp = await client.get("/t/breaker")
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "3"
    body = await _problem(resp)
    assert_problem(body, 503, "circuit-open")
    assert body["detail"] == "Crunchyroll is failing; try again soon."


async def test_redirects_are_not_errors(make_client: MakeClient) -> None:
    client = await make_client(_routes)
    resp = await client.get("/t/moved", allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == "/health/live"
    assert "X-Request-ID" in resp.headers


def test_deadline_rejects_nonsense() -> None:
    for bad in (0, -1.0, float("nan")):
        try:
            deadline(bad)
        except ValueError:
            continue
        raise AssertionError(f"deadline({bad!r}) accepted")
