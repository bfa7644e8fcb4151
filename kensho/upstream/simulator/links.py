"""The base of every link the simulator hands out, and CORS for what browsers fetch from it.

Links (images, manifests, media, subtitles) start with ``SimConfig.public_url`` when set (compose
and Kubernetes: the address Kenshō calls the simulator by is not one a browser can reach), else
with the origin of the request that asked. Browsers load media and images from another origin
than the page (Kenshō serves the page), so those paths answer CORS like a CDN: ``*``, and
preflights.
"""

from __future__ import annotations

from aiohttp import web

from kensho.upstream.simulator.faults import Handler
from kensho.upstream.simulator.state import STATE

__all__ = ["CORS_PREFIXES", "MAX_REMEMBERED_ORIGINS", "base_url", "cors_middleware"]

MAX_REMEMBERED_ORIGINS = 64
#: what a browser fetches straight from the simulator (the API itself is for servers)
CORS_PREFIXES = ("/imgsrv/", "/playback/manifests/", "/playback/media/", "/playback/subtitles/")
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Content-Length, Content-Range, ETag",
}
_PREFLIGHT = {
    **_CORS,
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Range, Authorization, Content-Type",
    "Access-Control-Max-Age": "86400",
}


def base_url(request: web.Request) -> str:
    """``public_url``, else the request's origin, remembered per (scheme, Host header): building
    ``request.url`` cost ~1% of a catalog sync."""
    state = request.app[STATE]
    if state.config.public_url:
        return state.config.public_url
    origins = state.origins
    key = (request.scheme, request.host)
    base = origins.get(key)
    if base is None:
        base = str(request.url.origin())
        if len(origins) >= MAX_REMEMBERED_ORIGINS:
            origins.clear()
        origins[key] = base
    return base


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """``Access-Control-Allow-Origin: *`` on browser-fetched paths, errors included; preflights
    (``OPTIONS``) answer 204 without touching the handler."""
    if not request.path.startswith(CORS_PREFIXES):
        return await handler(request)
    if request.method == "OPTIONS":
        return web.Response(status=204, headers=_PREFLIGHT)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(_CORS)
        raise
    response.headers.update(_CORS)
    return response
