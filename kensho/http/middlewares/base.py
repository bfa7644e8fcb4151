"""The middleware callable types shared by the factories (aiohttp's own, and ours)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

__all__ = ["Handler", "InputValidator", "Middleware"]

#: Parses a request's declared inputs: None when the route declares none (no await needed).
InputValidator = Callable[[web.Request], Awaitable[None] | None]
