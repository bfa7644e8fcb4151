"""Request id: accept a sane inbound `X-Request-ID`, otherwise mint one; echo it; log it."""

from __future__ import annotations

import re
import uuid

from aiohttp import web

from kensho.http.keys import REQUEST_ID
from kensho.http.middlewares.base import Handler, Middleware
from kensho.observability.logging import request_id_var

__all__ = ["HEADER", "is_sane_request_id", "request_id_middleware"]

HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def is_sane_request_id(value: str) -> bool:
    """At most 128 characters of [A-Za-z0-9._:-]: safe in logs, headers and JSON."""
    return _SANE.fullmatch(value) is not None


def request_id_middleware() -> Middleware:
    @web.middleware
    async def request_id(request: web.Request, handler: Handler) -> web.StreamResponse:
        inbound = request.headers.get(HEADER)
        rid = inbound if inbound is not None and is_sane_request_id(inbound) else uuid.uuid4().hex
        request[REQUEST_ID] = rid
        token = request_id_var.set(rid)
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # redirects pass through the errors middleware
            exc.headers[HEADER] = rid
            raise
        finally:
            request_id_var.reset(token)
        if not response.prepared:
            response.headers[HEADER] = rid
        return response

    return request_id
