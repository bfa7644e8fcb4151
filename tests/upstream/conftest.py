"""A scripted aiohttp server: each request pops the next canned answer, every request is kept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kensho.upstream.client import CallReport, ClientSettings, CrunchyrollClient
from kensho.upstream.retry import RetryPolicy

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Script:
    answers: list[Handler] = field(default_factory=list)
    fallback: Handler | None = None
    seen: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)

    def add(self, *answers: web.Response | Handler) -> None:
        for a in answers:
            if isinstance(a, web.StreamResponse):
                self.answers.append(_const(a))
            else:
                self.answers.append(a)


def _const(resp: web.Response) -> Handler:
    async def handler(_: web.Request) -> web.StreamResponse:
        return web.Response(
            status=resp.status,
            body=resp.body,
            headers=resp.headers,  # type: ignore[arg-type]
        )

    return handler


@pytest.fixture
async def script() -> AsyncIterator[tuple[Script, str]]:
    s = Script()

    async def any_route(request: web.Request) -> web.StreamResponse:
        s.seen.append(
            (request.method, request.path_qs, dict(request.headers), await request.read())
        )
        if s.answers:
            return await s.answers.pop(0)(request)
        if s.fallback is not None:
            return await s.fallback(request)
        return web.json_response({"total": 0, "data": [], "meta": {}})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", any_route)
    server = TestServer(app)
    await server.start_server()
    try:
        yield s, str(server.make_url("/")).rstrip("/")
    finally:
        await server.close()


@dataclass
class Harness:
    client: CrunchyrollClient
    sleeps: list[float]
    reports: list[CallReport]


@pytest.fixture
def make_client() -> Callable[..., Harness]:

    def factory(base_url: str, rand: float = 0.5, **settings: object) -> Harness:
        sleeps: list[float] = []
        reports: list[CallReport] = []

        async def fake_sleep(delay: float) -> None:
            sleeps.append(delay)
            await asyncio.sleep(0)

        gate = settings.pop("gate", None)
        opts: dict[str, object] = {
            "retry": RetryPolicy(attempts=3, base_delay=0.1, factor=2.0, max_delay=1.0)
        }
        opts.update(settings)
        client = CrunchyrollClient(
            ClientSettings(base_url=base_url, **opts),  # type: ignore[arg-type]
            rand=lambda: rand,
            sleep=fake_sleep,
            observer=reports.append,
            gate=gate,  # type: ignore[arg-type]
        )
        return Harness(client, sleeps, reports)

    return factory
