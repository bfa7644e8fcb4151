"""The middleware callable types shared by the factories (aiohttp's own)."""

from __future__ import annotations

from aiohttp.typedefs import Handler, Middleware

__all__ = ["Handler", "Middleware"]
