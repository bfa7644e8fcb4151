"""Cache control: responses that did not choose a policy are not cached (`no-store`)."""

from __future__ import annotations

from aiohttp import web

from kensho.http.middlewares.base import Handler, Middleware

__all__ = ["cache_control_middleware"]


def cache_control_middleware(default: str = "no-store") -> Middleware:
    @web.middleware
    async def cache_control(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if not response.prepared and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = default
        return response

    return cache_control
