"""The web front end: the viewer app at `/`, the operator console at `/admin/`, their assets.

`web/build.mjs` builds both from `web/src` into `kensho/http/webapp/` (committed, so a
Python-only install serves them): two pages and `assets/` whose file names carry a hash of
their content. Assets are therefore `immutable` for a year; the pages name the current assets
and are `no-cache` (revalidated with their ETag on every load), so a deploy shows at the next
load. Every file is read once when the app is built; a compressed variant is made off the loop
on its first request and kept. The viewer's own paths (`/anime/{id}`, `/search`, `/login`)
answer the viewer page, whose router reads the URL. The console page exists only where admin
routes do (an admin token is configured).
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web
from multidict import CIMultiDict

from kensho.catalog.representation import MIN_COMPRESS_BYTES
from kensho.errors import NotFound
from kensho.http import keys
from kensho.http.conditional import none_match
from kensho.http.operations import document_route, match_info_schema
from kensho.http.routing import Routes
from kensho.http.schemas.catalog import ID_PATTERN, AnimeIdPathSchema
from kensho.http.schemas.web import AssetPathSchema
from kensho.http.webapp_bundle import CONSOLE_PAGE, VIEWER_PAGE, WebBundle, WebFile

__all__ = ["PAGE_CSP", "add_web_routes"]

#: Scripts and styles only from here (no inline script: XSS cannot run code); images, media
#: and their manifests come from the catalog's and the stream's hosts, which vary.
PAGE_CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https: "
    "http:; media-src 'self' blob: https: http:; connect-src 'self' https: http:; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


async def _send(
    request: web.Request, item: WebFile, extra: dict[str, str] | None = None
) -> web.Response:
    """200 with `item` in the best acceptable coding, or 304 when `If-None-Match` names it."""
    headers = CIMultiDict(
        {"ETag": item.etag, "Cache-Control": item.cache_control, "Vary": "Accept-Encoding"}
    )
    if extra:
        headers.update(extra)
    if none_match(request.headers.get("If-None-Match"), item.etag):
        return web.Response(status=304, headers=headers)
    coding, identity_ok = request.app[keys.REPRESENTATIONS].negotiate(
        request.headers.get("Accept-Encoding")
    )
    if len(item.body) < MIN_COMPRESS_BYTES and identity_ok:
        coding = "identity"
    body = await item.body_in(coding)
    if coding != "identity":
        headers["Content-Encoding"] = coding
    headers["Content-Type"] = item.content_type
    return web.Response(body=body, headers=headers)


_PAGE_HEADERS: Final = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


async def viewer_page(request: web.Request) -> web.Response:
    """The viewer app (its router reads the path)."""
    return await _send(request, request.app[keys.WEB_BUNDLE].pages[VIEWER_PAGE], _PAGE_HEADERS)


def _require_console(request: web.Request) -> None:
    if not request.app[keys.CONFIG].admin_token:
        raise NotFound("No resource lives at this path.")


async def console_page(request: web.Request) -> web.Response:
    """The operator console; it asks for the admin token and keeps it in session storage."""
    _require_console(request)
    return await _send(request, request.app[keys.WEB_BUNDLE].pages[CONSOLE_PAGE], _PAGE_HEADERS)


async def asset(request: web.Request) -> web.Response:
    """A built asset by its hashed name."""
    item = request.app[keys.WEB_BUNDLE].assets.get(request.match_info["name"])
    if item is None:
        raise NotFound("No such asset.")
    return await _send(request, item, {"X-Content-Type-Options": "nosniff"})


_ID_ROUTE: Final = "{id:" + ID_PATTERN.strip("^$") + "}"


def add_web_routes(app: web.Application, bundle: WebBundle | None = None) -> None:
    """Pages and assets; add before the catch-all (`/` is a root-level route)."""
    app[keys.WEB_BUNDLE] = bundle or WebBundle()
    r = Routes(app)
    r.get("/", viewer_page, name="web-home")
    r.get("/search", viewer_page, name="web-search")
    r.get("/login", viewer_page, name="web-login")
    r.get(f"/anime/{_ID_ROUTE}", viewer_page, name="web-anime")
    r.get("/admin/", console_page, name="web-console")
    r.get("/admin", console_page, name="web-console-bare")
    r.get("/assets/{name}", asset, name="web-asset")
    _document(app)


def _document(app: web.Application) -> None:
    page: dict[str, Any] = {
        "tags": ["web"],
        "content_type": "text/html",
        "response": {"type": "string"},
        "example": '<!DOCTYPE html><html lang="en">…</html>',
        "description": "The viewer app's page (`Cache-Control: no-cache`, ETag). Its router "
        "shows what the path names.",
        "errors": (406,),
    }
    document_route(app, "GET", "/", "The viewer app: browse", **page)
    document_route(app, "GET", "/search", "The viewer app: search results", **page)
    document_route(app, "GET", "/login", "The viewer app: log in", **page)
    document_route(
        app,
        "GET",
        "/anime/{id}",
        "The viewer app: one anime",
        inputs=[match_info_schema(AnimeIdPathSchema)],
        **{**page, "errors": (404, 406)},
    )
    document_route(
        app,
        "GET",
        "/admin/",
        "The operator console (asks for the admin token)",
        **{**page, "description": "404 when no admin token is configured.", "errors": (404, 406)},
    )
    document_route(
        app,
        "GET",
        "/admin",
        "The operator console (as /admin/)",
        **{**page, "description": "404 when no admin token is configured.", "errors": (404, 406)},
    )
    document_route(
        app,
        "GET",
        "/assets/{name}",
        "A front-end asset by its content-hashed name",
        inputs=[match_info_schema(AssetPathSchema)],
        tags=["web"],
        content_type="*/*",
        response={"type": "string", "format": "binary"},
        example="",
        description="`Cache-Control: public, max-age=31536000, immutable`; br/gzip by "
        "Accept-Encoding; JavaScript, CSS and SVG.",
        errors=(404, 406),
    )
