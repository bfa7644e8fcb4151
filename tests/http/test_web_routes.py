"""The web front end's pages and assets: cache policy, ETags, codings, hostile paths."""

from __future__ import annotations

import asyncio
import gzip
import re
from pathlib import Path

import brotli
import pytest
from httpkit import TOKEN, MakeClient, assert_problem

from kensho.http import webapp_bundle
from kensho.http.keys import WEB_BUNDLE
from kensho.http.webapp_bundle import ASSET_CACHE, WebBundle, WebFile

VIEWER_PATHS = ["/", "/search?q=naruto", "/login", "/anime/GR751KNZY"]
_ASSET = re.compile(r'(?:src|href)="(/assets/[^"]+)"')


def _assets_named_in(html: str) -> list[str]:
    return _ASSET.findall(html)


@pytest.mark.parametrize("path", VIEWER_PATHS)
async def test_viewer_pages_are_revalidated_and_locked_down(
    make_client: MakeClient, path: str
) -> None:
    client = await make_client()
    resp = await client.get(path)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert resp.headers["Cache-Control"] == "no-cache"
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    html = await resp.text()
    assert '<div id="app">' in html and 'lang="en"' in html
    again = await client.get(path, headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status == 304 and await again.read() == b""


async def test_every_asset_a_page_names_is_served_immutable(make_client: MakeClient) -> None:
    client = await make_client(admin_token=TOKEN)
    named = set()
    for page in ("/", "/admin/"):
        named |= set(_assets_named_in(await (await client.get(page)).text()))
    assert any(n.endswith(".js") for n in named) and any(n.endswith(".css") for n in named)
    for path in sorted(named):
        assert re.search(r"-[A-Za-z0-9_]{8,}\.[a-z]+$", path), f"{path} has no content hash"
        resp = await client.get(path)
        assert resp.status == 200, path
        assert resp.headers["Cache-Control"] == ASSET_CACHE
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Content-Type"].split(";")[0] in (
            "text/javascript",
            "text/css",
            "image/svg+xml",
        )
        revalidated = await client.get(path, headers={"If-None-Match": resp.headers["ETag"]})
        assert revalidated.status == 304


async def test_assets_are_compressed_once_by_accept_encoding(make_client: MakeClient) -> None:
    client = await make_client()
    bundle = client.app[WEB_BUNDLE]
    name, item = max(bundle.assets.items(), key=lambda kv: len(kv[1].body))
    path = f"/assets/{name}"
    br = await client.get(
        path, headers={"Accept-Encoding": "gzip;q=0.5, br"}, auto_decompress=False
    )
    assert br.headers["Content-Encoding"] == "br" and br.headers["Vary"] == "Accept-Encoding"
    assert brotli.decompress(await br.read()) == item.body
    gz = await client.get(path, headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert gz.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(await gz.read()) == item.body
    plain = await client.get(path, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and await plain.read() == item.body
    refused = await client.get(path, headers={"Accept-Encoding": "identity;q=0"})
    assert refused.status == 406
    assert set(item.coded) == {"br", "gzip"}  # kept for the next request


async def test_concurrent_first_requests_compress_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real = webapp_bundle.compress

    def counting(body: bytes, coding: str) -> bytes:
        nonlocal calls
        calls += 1
        return real(body, coding)

    monkeypatch.setattr(webapp_bundle, "compress", counting)
    item = WebFile(b"x" * 100_000, "text/javascript", ASSET_CACHE)
    bodies = await asyncio.gather(*(item.body_in("br") for _ in range(8)))
    assert calls == 1 and len(set(bodies)) == 1
    assert brotli.decompress(bodies[0]) == item.body


async def test_small_files_go_out_as_they_are(make_client: MakeClient) -> None:
    client = await make_client()
    name = next(n for n, f in client.app[WEB_BUNDLE].assets.items() if len(f.body) < 1024)
    resp = await client.get(f"/assets/{name}", headers={"Accept-Encoding": "br"})
    assert resp.status == 200 and "Content-Encoding" not in resp.headers


@pytest.mark.parametrize(
    "path",
    [
        "/assets/nope.js",
        "/assets/..%2F..%2Fpyproject.toml",
        "/assets/%2e%2e%2fweb_routes.py",
        "/assets/%00",
        "/assets/" + "a" * 4000 + ".js",
        "/assets/évil.js",
        "/assets/",
        "/anime/" + "x" * 65,
        "/anime/a%20b",
        "/anime/%3Cscript%3E",
    ],
)
async def test_unknown_or_hostile_paths_are_404_problems(
    make_client: MakeClient, path: str
) -> None:
    client = await make_client()
    resp = await client.get(path)
    assert resp.status == 404
    assert_problem(await resp.json(content_type="application/problem+json"), 404, "not-found")


async def test_console_exists_only_with_an_admin_token(make_client: MakeClient) -> None:
    hidden = await make_client()
    for path in ("/admin/", "/admin"):
        assert (await hidden.get(path)).status == 404
    client = await make_client(admin_token=TOKEN)
    for path in ("/admin/", "/admin"):
        resp = await client.get(path)
        assert resp.status == 200 and resp.headers["Cache-Control"] == "no-cache"
        assert "operator console" in await resp.text()


async def test_head_answers_headers_only(make_client: MakeClient) -> None:
    client = await make_client()
    resp = await client.head("/")
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-cache"
    assert await resp.read() == b""


def test_a_missing_build_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="make web"):
        WebBundle(tmp_path)
