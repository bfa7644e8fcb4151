"""An app built by the real factory, with the docs installed and two sample documented routes.

The sample routes exercise `operation` with the apigami input decorators and answer with their
schemas' examples, so these tests check the docs machinery without PostgreSQL or Redis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web

from kensho.config import Config
from kensho.errors import Unauthorized
from kensho.http import schemas
from kensho.http.app import create_app
from kensho.http.inputs import validated
from kensho.http.openapi import setup_openapi
from kensho.http.operations import json_schema, operation, querystring_schema
from kensho.http.routing import Routes


@operation("Browse anime", tags=["catalog"], response=schemas.AnimeListSchema)
@querystring_schema(schemas.AnimeListQuerySchema)
async def browse(request: web.Request) -> web.Response:
    query: dict[str, Any] = validated(request, "querystring")
    body = dict(schemas.AnimeListSchema.example)
    body["items"] = body["items"][: query["limit"]]
    return web.json_response(body)


@operation("Log in", tags=["auth"], response=schemas.LoginResponseSchema, errors=(401, 429))
@json_schema(schemas.LoginRequestSchema, example=schemas.LoginRequestSchema.example)
async def login(request: web.Request) -> web.Response:
    if validated(request, "json")["password"] != "correct horse":
        raise Unauthorized("bad credentials")
    return web.json_response(schemas.LoginResponseSchema.example)


def make_app(config: Config | None = None) -> web.Application:
    """create_app + the sample routes + the docs, middlewares as app.py will install them."""
    app = create_app(config or Config(), resources=[], api_routes=False)
    Routes(app).get("/api/anime", browse, name="anime-list")
    Routes(app).post("/api/auth/login", login, name="auth-login")
    setup_openapi(app)
    return app


@pytest.fixture(name="make_app", scope="session")
def make_app_fixture() -> Callable[..., web.Application]:
    return make_app


@pytest.fixture
def app() -> web.Application:
    return make_app()
