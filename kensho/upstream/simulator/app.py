"""The simulator's app factory and an in-process runner on a loopback port."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from kensho.catalog.bundle import load_catalog
from kensho.serving import serving
from kensho.upstream.simulator import (
    accounts,
    content,
    discover,
    faults,
    images,
    legacy,
    media,
    movies,
    playback,
)
from kensho.upstream.simulator.auth import principal_of, token_handler
from kensho.upstream.simulator.config import SimConfig
from kensho.upstream.simulator.faults import Handler
from kensho.upstream.simulator.index import index_for
from kensho.upstream.simulator.links import cors_middleware
from kensho.upstream.simulator.responses import json_error
from kensho.upstream.simulator.state import STATE, SimState

__all__ = ["create_sim_app", "running_simulator"]

_CLIENT_MAX_SIZE = 64 * 1024


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bearer check on every content call; unknown routes answer the JSON 404 shape."""
    if request.match_info.http_exception is not None:
        exc = request.match_info.http_exception
        if exc.status == 404:
            return json_error(404, "cms.resource_not_found")
        raise exc
    if request.path.startswith("/content/") and principal_of(request) is None:
        return json_error(401, "accounts.get_profile.invalid_auth_token")
    return await handler(request)


def create_sim_app(config: SimConfig | None = None) -> web.Application:
    """A fresh simulator (own accounts, tokens, streams, faults); the catalog index is shared."""
    config = config or SimConfig()
    catalog = config.catalog or load_catalog()
    app = web.Application(
        middlewares=[
            faults.stats_middleware,
            faults.fault_middleware,
            cors_middleware,
            api_middleware,
        ],
        client_max_size=_CLIENT_MAX_SIZE,
    )
    state = SimState(config=config, index=index_for(catalog), rng=random.Random(config.seed))
    state.accounts = {a.email.lower(): a for a in config.accounts}
    app[STATE] = state
    app[images.IMAGES] = images.ImageCache()
    app.router.add_get("/", home, name="home")
    app.router.add_post("/auth/v1/token", token_handler, name="token")
    for module in (accounts, content, discover, movies, legacy, playback, media, images, faults):
        app.router.add_routes(module.routes)
    return app


async def home(request: web.Request) -> web.Response:
    """``GET /``: crunchyroll-rs fetches the home page before logging in (Cloudflare cookies)."""
    response = web.Response(
        text="<!DOCTYPE html><html><head><title>Kenshō Crunchyroll simulator</title></head>"
        "<body>Crunchyroll API simulator: see docs/simulator.md</body></html>",
        content_type="text/html",
    )
    response.set_cookie("__cf_bm", request.app[STATE].token(16), httponly=True)
    return response


@asynccontextmanager
async def running_simulator(config: SimConfig | None = None) -> AsyncIterator[str]:
    """Serve the simulator on ``config.host:config.port`` (0 = a free port); yields the base URL."""
    config = config or SimConfig()
    async with serving(create_sim_app(config), config.host, config.port) as url:
        yield url
