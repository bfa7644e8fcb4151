"""Fixtures for feature flags: the real app factory with the flags resource on a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient

from kensho.composition import services
from kensho.config import Config
from kensho.http import keys
from kensho.http.app import create_app

ADMIN = "flags-admin-token-for-tests"
AUTH = {"Authorization": f"Bearer {ADMIN}"}

FlagsClient = TestClient[web.Request, web.Application]
MakeFlagsApp = Callable[..., Awaitable[FlagsClient]]


@pytest.fixture
def make_flags_app(
    aiohttp_client: Any, redis_url: str, redis_prefix: str, tmp_path: Path
) -> Callable[..., Awaitable[FlagsClient]]:
    """`await make_flags_app(url=..., **config)`: an app whose Redis client (at `url`, by
    default the test Redis) and flags live under this test's key prefix."""

    async def make(*, url: str | None = None, **settings: Any) -> FlagsClient:
        settings.setdefault("admin_token", ADMIN)
        config = Config(data_dir=tmp_path, log_format="text", **settings)

        async def redis(app: web.Application) -> AsyncIterator[None]:
            client: aioredis.Redis = aioredis.from_url(
                url or redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
            )
            app[keys.REDIS] = client
            yield
            await client.aclose()

        app = create_app(config, resources=[redis, services.flags(prefix=redis_prefix)])
        client: FlagsClient = await aiohttp_client(app)
        return client

    return make
