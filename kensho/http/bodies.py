"""Request bodies: JSON only, size-capped by `client_max_size`, errors from the taxonomy."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from kensho.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

__all__ = ["read_json"]


async def read_json(request: web.Request, *, limit: int | None = None) -> Any:
    """The parsed JSON body: 415 for another media type, 400 for malformed JSON, 413 too big
    (past `client_max_size`, or past `limit` bytes when given: a small body's own cap)."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType("Send the body as application/json.")
    if limit is None:
        raw = await request.read()  # raises 413 past client_max_size
    else:
        if (request.content_length or 0) > limit:
            raise PayloadTooLarge(f"The body must be at most {limit} bytes.")
        chunks: list[bytes] = []
        size = 0
        while chunk := await request.content.read(limit + 1 - size):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:  # chunked, or a Content-Length that lied
                raise PayloadTooLarge(f"The body must be at most {limit} bytes.")
        raw = b"".join(chunks)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("The body is not valid JSON.") from None
