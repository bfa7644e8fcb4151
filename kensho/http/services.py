"""Handlers reach the domain services the composition root built through typed app keys."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web

from kensho.errors import ServiceUnavailable

__all__ = ["need"]

T = TypeVar("T")


def need(app: web.Application, key: web.AppKey[T], what: str, retry_after: int = 5) -> T:
    """The service under `key`; 503 (`what` "is not available yet") while it is absent
    (the app is starting, or this deployment runs without it)."""
    service = app.get(key)
    if service is None:
        raise ServiceUnavailable(f"{what} is not available yet.", retry_after=retry_after)
    return service
