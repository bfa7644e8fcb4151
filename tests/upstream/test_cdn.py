"""Manifests come from the CDN fetcher: no bearer token, outside the API's breaker and pool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from kensho.errors import CircuitOpen, ValidationFailed
from kensho.upstream import errors as e
from kensho.upstream.cdn import CdnFetcher
from kensho.upstream.client import ClientSettings, CrunchyrollClient, Playback
from kensho.upstream.tokens import Token

TOKEN = Token("secret-access-token", "secret-refresh", 2e9, "acct-1", True, "dev-1")


class RefusingGate:
    """An API breaker that is open: every API call fails fast."""

    async def acquire_permit(self) -> Any:
        raise CircuitOpen("open", retry_after=5)

    async def record(self, permit: Any, outcome: Any, duration: float) -> None:
        return None


@pytest.fixture
async def cdn(aiohttp_server: Any) -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    async def manifest(request: web.Request) -> web.Response:
        seen.append(dict(request.headers) | {"query": request.query_string})
        if request.match_info["name"] == "gone.m3u8":
            return web.Response(status=403, text="no")
        if request.match_info["name"] == "big.m3u8":
            return web.Response(body=b"#" * (64 << 10))
        if request.match_info["name"] == "latin1.m3u8":
            return web.Response(
                body='#EXTM3U\n#EXT-X-SESSION-DATA:VALUE="Pokémon"\n'.encode("latin-1")
            )
        return web.Response(text="#EXTM3U\n", content_type="application/vnd.apple.mpegurl")

    app = web.Application()
    app.router.add_get("/m/{name}", manifest)
    server = await aiohttp_server(app)
    yield str(server.make_url("")), seen


def _playback(base: str, name: str = "master.m3u8") -> Playback:
    return Playback("G1", f"{base}/m/{name}?playbackGuid=st-1", "st-1", "ja-JP", {}, {}, True, {})


async def test_the_bearer_token_never_reaches_the_manifest_host(
    cdn: tuple[str, list[dict[str, str]]],
) -> None:
    base, seen = cdn
    # The API lives elsewhere and its breaker is open: the manifest is fetched anyway.
    settings = ClientSettings(base_url="http://127.0.0.1:9", max_body_bytes=32 << 10)
    async with CrunchyrollClient(settings, gate=RefusingGate()) as client:
        text = await client.fetch_manifest(_playback(base), TOKEN)
        assert text == "#EXTM3U\n"
        with pytest.raises(e.UpstreamForbidden):
            await client.fetch_manifest(_playback(base, "gone.m3u8"), TOKEN)
        with pytest.raises(e.UpstreamDecodeError):
            await client.fetch_manifest(_playback(base, "big.m3u8"), TOKEN)
        with pytest.raises(ValidationFailed):
            await client.cdn.fetch_text("file:///etc/passwd")
        with pytest.raises(ValidationFailed):
            await client.cdn.fetch_text("http://" + "x" * 5000)
        assert client.stats()["in_use"] == 0  # the API's pool was never used
    assert len(seen) == 3
    for headers in seen:
        assert "Authorization" not in headers
        assert not any(TOKEN.access_token in v for v in headers.values())
        assert "playbackGuid=st-1" in headers["query"]


async def test_an_unreachable_cdn_is_an_upstream_failure() -> None:
    settings = ClientSettings(base_url="http://127.0.0.1:9", attempt_timeout=1.0)
    async with CrunchyrollClient(settings) as client:
        with pytest.raises(e.UpstreamUnreachable):
            await client.fetch_manifest(_playback("http://127.0.0.1:9"), TOKEN)


async def test_the_fetcher_starts_once_and_fetches_only_while_started(
    cdn: tuple[str, list[dict[str, str]]],
) -> None:
    base, seen = cdn
    fetcher = CdnFetcher(user_agent="kensho-test")
    with pytest.raises(RuntimeError, match="not started"):
        await fetcher.fetch_text(f"{base}/m/master.m3u8")
    await fetcher.start()
    session = fetcher.session
    await fetcher.start()  # idempotent: the same session, no second connector left open
    assert fetcher.session is session
    try:
        assert await fetcher.fetch_text(f"{base}/m/master.m3u8") == "#EXTM3U\n"
    finally:
        await fetcher.close()
    assert session.closed
    await fetcher.close()  # idempotent
    with pytest.raises(RuntimeError, match="not started"):
        await fetcher.fetch_text(f"{base}/m/master.m3u8")
    assert len(seen) == 1
    assert seen[0]["User-Agent"] == "kensho-test"


async def test_a_manifest_that_is_not_utf8_is_a_decode_error(
    cdn: tuple[str, list[dict[str, str]]],
) -> None:
    base, _seen = cdn
    fetcher = CdnFetcher(user_agent="kensho-test")
    await fetcher.start()
    try:
        with pytest.raises(e.UpstreamDecodeError, match="not UTF-8") as info:
            await fetcher.fetch_text(f"{base}/m/latin1.m3u8")
    finally:
        await fetcher.close()
    assert info.value.upstream_status == 200
    assert info.value.url == f"{base}/m/latin1.m3u8"
