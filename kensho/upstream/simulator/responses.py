"""The real service's error bodies: JSON shapes for the API, Cloudflare-style HTML for the edge."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

__all__ = [
    "cloudflare_block",
    "error_for_status",
    "json_error",
    "json_response",
    "overloaded",
    "rate_limited",
]

_BLOCK = (
    '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head>'
    "<body><h1>Checking if the site connection is secure</h1>"
    "<p>Enable JavaScript and cookies to continue</p></body></html>"
)
_RATE = (
    "<!DOCTYPE html><html><head><title>Access denied | www.crunchyroll.com used Cloudflare "
    "to restrict access</title></head><body><h1>Error 1015</h1>"
    "<h2>You are being rate limited</h2></body></html>"
)
_OVERLOADED = (
    "<!DOCTYPE html><html><head><title>Crunchyroll - Overloaded</title></head>"
    "<body><h1>Crunchyroll is overloaded</h1><p>Please try again later.</p></body></html>"
)


def json_response(doc: Any, status: int = 200) -> web.Response:
    """``web.json_response`` with orjson: the standard encoder was ~11% of a full sync's CPU.

    Same keys and ``application/json; charset=utf-8``; compact, UTF-8 (not ``\\u`` escapes).
    orjson raises on non-``str`` keys and writes ``null`` for NaN, so the body stays strict JSON.
    """
    return web.Response(
        body=orjson.dumps(doc), status=status, content_type="application/json", charset="utf-8"
    )


def json_error(
    status: int, code: str, context: list[dict[str, Any]] | None = None, **extra: Any
) -> web.Response:
    """The usual CMS/auth shape: ``{"code": ..., "context": [...], ...extra}``."""
    return json_response({"code": code, "context": context or [], **extra}, status=status)


def cloudflare_block() -> web.Response:
    return web.Response(status=403, text=_BLOCK, content_type="text/html")


def rate_limited(retry_after: int | None) -> web.Response:
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return web.Response(status=429, text=_RATE, content_type="text/html", headers=headers)


def overloaded(status: int = 503) -> web.Response:
    return web.Response(status=status, text=_OVERLOADED, content_type="text/html")


def error_for_status(status: int, retry_after: int | None = None) -> web.Response:
    """What the real edge answers with for an injected `status`."""
    if status == 429:
        return rate_limited(retry_after)
    if status == 403:
        return cloudflare_block()
    if status >= 500:
        response = overloaded(status)
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response
    if status == 404:
        return json_error(404, "cms.resource_not_found")
    return json_error(status, "sim.injected_fault")
