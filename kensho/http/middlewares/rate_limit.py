"""Rate-limit hook: the slot in the chain where a limiter (a later issue) plugs in."""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from kensho.http.middlewares.base import Handler, Middleware

__all__ = ["RateLimiter", "rate_limit_middleware"]


class RateLimiter(Protocol):
    async def check(self, request: web.Request) -> None:
        """Return to admit the request; raise `kensho.errors.RateLimited` to refuse it."""


def rate_limit_middleware(limiter: RateLimiter) -> Middleware:
    @web.middleware
    async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        await limiter.check(request)
        return await handler(request)

    return rate_limit
