"""Errors: every exception (and every aiohttp HTTP error) leaves as problem+json."""

from __future__ import annotations

from aiohttp import web

from kensho.http.keys import REQUEST_ID
from kensho.http.middlewares.base import Handler, Middleware
from kensho.http.problems import problem_for

__all__ = ["errors_middleware"]


def errors_middleware() -> Middleware:
    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:  # redirects and the like are not errors
                raise
            return problem_for(exc, request, request.get(REQUEST_ID))
        except Exception as exc:
            return problem_for(exc, request, request.get(REQUEST_ID))

    return errors
