"""Timeout: each request gets a deadline (the default or its route's own) and a 504 after it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web

from kensho.errors import Timeout
from kensho.http.middlewares.base import Handler, Middleware

__all__ = ["deadline", "timeout_middleware"]

_ATTR = "__kensho_deadline__"
_F = TypeVar("_F", bound=Callable[..., object])
_UNSET = object()


def deadline(seconds: float | None) -> Callable[[_F], _F]:
    """Give a route handler its own deadline; `None` opts out (long-lived streams)."""
    if seconds is not None and not seconds > 0:
        raise ValueError(f"deadline must be positive, got {seconds!r}")

    def mark(handler: _F) -> _F:
        setattr(handler, _ATTR, seconds)
        return handler

    return mark


def timeout_middleware(default: float) -> Middleware:
    @web.middleware
    async def timeout(request: web.Request, handler: Handler) -> web.StreamResponse:
        seconds = getattr(request.match_info.handler, _ATTR, _UNSET)
        limit = default if seconds is _UNSET else seconds
        if limit is None:
            return await handler(request)
        assert isinstance(limit, int | float)
        try:
            async with asyncio.timeout(limit) as scope:
                return await handler(request)
        except TimeoutError:
            if scope.expired():
                raise Timeout(f"The request did not complete within {limit:g} s.") from None
            raise

    return timeout
