"""Routes go in through the envelope; the catch-all answers what no route matches."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kensho.config import Config
from kensho.http.app import create_app
from kensho.http.middlewares.envelope import is_enveloped
from kensho.http.routing import Routes


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def _app() -> web.Application:
    return create_app(Config(), resources=[], api_routes=False)


async def test_a_route_added_around_the_envelope_stops_the_start() -> None:
    app = _app()
    app.router.add_get("/t/raw", _ok)
    with pytest.raises(RuntimeError, match=r"(HEAD|GET) /t/raw bypasses the envelope"):
        await TestServer(app).start_server()


async def test_a_root_level_route_behind_the_catch_all_stops_the_start() -> None:
    app = _app()
    Routes(app).get("/{slug}", _ok)
    with pytest.raises(RuntimeError, match=r"/\{slug\} was added after the catch-all"):
        await TestServer(app).start_server()


async def test_every_route_of_the_full_app_is_enveloped() -> None:
    app = create_app(Config(), resources=[])
    routes = [route for resource in app.router.resources() for route in resource]
    assert len(routes) > 20 and all(is_enveloped(route.handler) for route in routes)


async def test_unmatched_requests_get_problems_with_request_ids(aiohttp_client: Any) -> None:
    app = _app()
    Routes(app).get("/t/only-get", _ok)
    client = await aiohttp_client(app)
    missing = await client.get("/t/nothing/here", headers={"X-Request-ID": "rt-1"})
    assert missing.status == 404 and missing.headers["X-Request-ID"] == "rt-1"
    assert missing.content_type == "application/problem+json"
    wrong = await client.delete("/t/only-get")
    assert wrong.status == 405 and set(wrong.headers["Allow"].split(",")) >= {"GET", "HEAD"}
    head = await client.head("/t/nothing")
    assert head.status == 404 and await head.read() == b""
    assert (await client.get("/t/only-get")).status == 200


async def test_the_wrapper_keeps_what_the_docs_read() -> None:
    app = _app()

    async def documented(request: web.Request) -> web.Response:
        """Docstring."""
        return web.Response()

    documented.__apispec__ = {"summary": "x"}  # type: ignore[attr-defined]
    route = Routes(app).get("/t/doc", documented)
    assert route.handler.__name__ == "documented"
    assert route.handler.__apispec__ == {"summary": "x"}  # type: ignore[attr-defined]
    assert Routes(app).get("/t/doc2", route.handler).handler is route.handler  # wrapped once
