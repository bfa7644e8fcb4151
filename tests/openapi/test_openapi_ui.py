"""Swagger UI is served from this process: the page and every asset it references."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from kensho.http.openapi import DOCS_PATH, SPEC_PATH


async def test_docs_page_loads_only_local_assets(aiohttp_client: Any, app: web.Application) -> None:
    client = await aiohttp_client(app)
    resp = await client.get(DOCS_PATH)
    assert resp.status == 200
    assert resp.content_type == "text/html"
    page = await resp.text()
    assert "<script>" not in page  # no inline script: the CSP forbids them
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert f'data-spec-url="{SPEC_PATH}"' in page
    refs = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert len(refs) >= 4
    for ref in refs:
        assert ref.startswith("/"), f"{ref} is not served by this process"
        asset = await client.get(ref)
        assert asset.status == 200, ref
        assert len(await asset.read()) > 0, ref
    bundle = await client.get(DOCS_PATH + "/static/swagger-ui-bundle.js")
    assert "javascript" in bundle.content_type
    assert "max-age" in bundle.headers["Cache-Control"]


async def test_unknown_and_hostile_asset_names_are_404_problems(
    aiohttp_client: Any, app: web.Application
) -> None:
    client = await aiohttp_client(app)
    for name in ("index.html", "..%2F..%2Fopenapi.py", "%2e%2e%2fconfig.py", "x" * 4000, "LICENSE"):
        resp = await client.get(f"{DOCS_PATH}/static/{name}")
        assert resp.status == 404, name
        assert resp.content_type == "application/problem+json"
