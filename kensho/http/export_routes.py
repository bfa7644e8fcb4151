"""`GET /api/anime/export`: the catalog (or a filtered part) streamed as NDJSON.

The handler validates the filters, takes an export slot (503 when all are busy), reads the
first batch before sending anything (so a database outage is still a problem+json 503), then
streams one database batch per write. `StreamResponse.write` waits for the socket to drain
past aiohttp's buffer limit, so a slow client slows the database reads instead of making the
server buffer; a client that takes nothing for `export_idle_timeout` is disconnected. gzip is
applied on the fly when `Accept-Encoding` allows it. No request deadline applies: an export
takes as long as the client reads.

Once the first byte is out, a failure cannot become a problem response any more: the
connection is closed without the final chunk, so the client sees a truncated body (never a
complete-looking one) and resumes from the last line's `cursor`. So does a server that starts
draining for shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from datetime import UTC, datetime

from aiohttp import web
from multidict import istr

from kensho.catalog.export import ExportFilter
from kensho.errors import ValidationFailed
from kensho.http import keys
from kensho.http.middlewares.timeout import deadline
from kensho.http.negotiation import acceptable
from kensho.http.operations import document_route, querystring_schema
from kensho.http.params import choice_param, cursor_param, genre_param
from kensho.http.schemas import catalog as s
from kensho.http.services import need
from kensho.store.catalog_queries import genre_slug

__all__ = ["EXPORT_PATH", "NDJSON", "export"]

log = logging.getLogger(__name__)

EXPORT_PATH = "/api/anime/export"
NDJSON = "application/x-ndjson"
_ACCEPT_ENCODING = istr("Accept-Encoding")
_SINCE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]{2,15}(Z|[+-][0-9]{2}:?[0-9]{2})?)?$")


def updated_since_param(request: web.Request) -> datetime | None:
    """`updated_since`: an ISO 8601 date or date-time (UTC when it names no offset)."""
    raw = request.query.get("updated_since")
    if raw is None:
        return None
    when = None
    if _SINCE.match(raw):
        with contextlib.suppress(ValueError):
            when = datetime.fromisoformat(raw)
    if when is None:
        raise ValidationFailed.field(
            "updated_since",
            "must be an ISO 8601 date or date-time, e.g. 2026-01-31T12:00:00Z",
            status=400,
        )
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


@deadline(None)
async def export(request: web.Request) -> web.StreamResponse:
    """GET /api/anime/export?genre=&type=&updated_since=&cursor=."""
    app = request.app
    exporter = need(app, keys.EXPORT, "The catalog export")
    genre = genre_param(request)
    flt = ExportFilter(
        genre=genre_slug(genre) if genre is not None else None,
        kind=choice_param(request, "type", s.ANIME_KINDS),
        updated_since=updated_since_param(request),
    )
    cursor = cursor_param(request)
    if cursor is not None:
        flt = exporter.resume_after(flt, cursor)
    gzip = acceptable(request.headers.get(_ACCEPT_ENCODING), "gzip")
    lifecycle = app[keys.LIFECYCLE]
    async with exporter.slot():
        lines = exporter.lines(flt)
        async with contextlib.aclosing(lines):
            first = await anext(lines, b"")  # a failure here is still a problem response
            resp = web.StreamResponse(headers={"Content-Type": NDJSON, "Cache-Control": "no-store"})
            resp.headers["Vary"] = "Accept-Encoding"
            if gzip:
                resp.enable_compression(web.ContentCoding.gzip)
            await resp.prepare(request)
            try:
                async with asyncio.timeout(exporter.idle_timeout):
                    await resp.write(first)
                async for chunk in lines:
                    if lifecycle.draining:
                        raise ConnectionAbortedError("the server is shutting down")
                    async with asyncio.timeout(exporter.idle_timeout):
                        await resp.write(chunk)
            except Exception as exc:
                # Headers are out: the only honest signal left is a truncated body.
                log.warning(
                    "export aborted: %s",
                    type(exc).__name__,
                    extra={"event": "export_aborted", "reason": type(exc).__name__},
                )
                if request.transport is not None:
                    request.transport.abort()
                return resp
            await resp.write_eof()
    return resp


def document_export(app: web.Application) -> None:
    document_route(
        app,
        "GET",
        EXPORT_PATH,
        "The whole catalog (or a filtered part) as NDJSON, streamed",
        inputs=[querystring_schema(s.ExportQuerySchema)],
        response=s.ExportLineSchema,
        content_type=NDJSON,
        errors=(400, 503),
        tags=["catalog"],
        description=(
            'One JSON object per line: `{"cursor": …, "anime": {…}}`, the anime in id '
            "order with the same fields as `GET /api/anime/{id}`. Streamed from a database "
            "cursor with bounded memory; gzip when `Accept-Encoding` allows it. A complete "
            "export ends with a final chunk; a cut one (client, network, server shutdown) does "
            "not: resume with `?cursor=` set to the last line's cursor and the same filters. "
            "At most `KENSHO_EXPORT_MAX_CONCURRENT` exports run at once (503 + Retry-After)."
        ),
    )
