"""`AnonymousFetcher` against a tiny stand-in upstream: bodies it must refuse, URLs it builds."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp import web

from kensho.errors import UpstreamError
from kensho.jobs import catalog_source
from kensho.jobs.catalog_source import AnonymousFetcher


def _app(seen: list[str]) -> web.Application:
    async def token(_: web.Request) -> web.Response:
        return web.json_response({"access_token": "t", "expires_in": 300})

    async def content(request: web.Request) -> web.StreamResponse:
        seen.append(str(request.rel_url))
        kind = request.match_info["kind"]
        if kind == "html":
            return web.Response(text="<html>Overloaded</html>", content_type="text/html")
        if kind == "list":
            return web.Response(body=b"[1, 2]", content_type="application/json")
        if kind == "big":
            return web.Response(body=b'{"data": []}' + b" " * 2048)
        return web.json_response({"data": [{"id": "A1"}], "query": dict(request.query)})

    app = web.Application()
    app.router.add_post("/auth/v1/token", token)
    app.router.add_get("/content/{kind}", content)
    return app


async def _fetcher(aiohttp_server: Any, seen: list[str]) -> tuple[AnonymousFetcher, Any]:
    server = await aiohttp_server(_app(seen))
    session = aiohttp.ClientSession()
    return AnonymousFetcher(session, str(server.make_url(""))), session


async def test_decodes_json_and_encodes_the_query(aiohttp_server: Any) -> None:
    seen: list[str] = []
    fetch, session = await _fetcher(aiohttp_server, seen)
    async with session:
        doc = await fetch("/content/ok", {"locale": "en-US", "q": "a&b=c d"})
    assert doc["data"] == [{"id": "A1"}]
    assert doc["query"] == {"locale": "en-US", "q": "a&b=c d"}  # not split by a hostile value
    assert seen == ["/content/ok?locale=en-US&q=a%26b%3Dc+d"]


@pytest.mark.parametrize(("kind", "message"), [("html", "not JSON"), ("list", "not a JSON object")])
async def test_refuses_bodies_that_are_not_json_objects(
    aiohttp_server: Any, kind: str, message: str
) -> None:
    fetch, session = await _fetcher(aiohttp_server, [])
    async with session:
        with pytest.raises(UpstreamError, match=message):
            await fetch(f"/content/{kind}", {})


async def test_refuses_oversized_bodies(
    aiohttp_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_source, "MAX_BODY_BYTES", 1024)
    fetch, session = await _fetcher(aiohttp_server, [])
    async with session:
        with pytest.raises(UpstreamError, match="larger than"):
            await fetch("/content/big", {})


async def test_quotes_hostile_path_segments(aiohttp_server: Any) -> None:
    seen: list[str] = []
    fetch, session = await _fetcher(aiohttp_server, seen)
    async with session:
        with pytest.raises(UpstreamError, match="404"):
            await fetch("/content/x?y=1#z/../../auth", {})
    assert seen == []  # the ? and # stayed in the path: the route did not match
