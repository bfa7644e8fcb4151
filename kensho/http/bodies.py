"""Request bodies: JSON only, size-capped by `client_max_size`, errors from the taxonomy."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from kensho.errors import BadRequest, UnsupportedMediaType

__all__ = ["read_json"]


async def read_json(request: web.Request) -> Any:
    """The parsed JSON body: 415 for another media type, 400 for malformed JSON, 413 too big."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType("Send the body as application/json.")
    raw = await request.read()  # raises 413 past client_max_size
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("The body is not valid JSON.") from None
