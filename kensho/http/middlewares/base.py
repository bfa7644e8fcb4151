"""The middleware callable types shared by the factories (aiohttp's own, and ours)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

__all__ = ["Handler", "InputParsers", "Middleware"]

#: Given a route handler, the coroutine function that parses (validates) the inputs it
#: declared, or None when it declares none. Asked once per route, not per request.
InputParsers = Callable[[object], Callable[[web.Request], Awaitable[None]] | None]
