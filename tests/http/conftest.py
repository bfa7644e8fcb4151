"""HTTP test fixtures: the real app factory with a stand-in supervisor and captured JSON logs."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from httpkit import LogCapture, MakeClient, StandInSupervisor

from kensho.composition.services import actor_tree
from kensho.config import Config
from kensho.http import keys
from kensho.http.app import create_app
from kensho.observability.logging import JsonFormatter, RequestIdFilter


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    cap = LogCapture()
    handler = logging.StreamHandler(cap.stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield cap
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.fixture
def supervisor() -> StandInSupervisor:
    return StandInSupervisor()


@pytest.fixture
def make_client(aiohttp_client: Any, supervisor: StandInSupervisor) -> MakeClient:
    """Build the real app with config overrides; `setup(app)` may add test routes."""

    async def make(
        setup: Callable[[web.Application], None] | None = None, **overrides: Any
    ) -> TestClient[web.Request, web.Application]:
        config = Config(**overrides)
        app = create_app(config, resources=[actor_tree(lambda _c: supervisor)])
        if setup is not None:
            setup(app)
        client: TestClient[web.Request, web.Application] = await aiohttp_client(app)
        assert client.server.runner is not None
        app[keys.LIFECYCLE].bind_runner(client.server.runner)
        return client

    return make
