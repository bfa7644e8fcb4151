"""Stream URLs with quality selection, player heartbeats and the bandwidth view (issue 4)."""

from __future__ import annotations

import math
from typing import Any

import marshmallow as ma
import orjson
from aiohttp import web

from kensho.auth.bandwidth import BandwidthMonitor
from kensho.errors import ServiceUnavailable, ValidationFailed
from kensho.http import admin, keys
from kensho.http.auth_routes import BANDWIDTH, PLAYBACK, bearer_token, caller_of
from kensho.http.bodies import read_json
from kensho.http.openapi import (
    document_route,
    json_schema,
    match_info_schema,
    operation,
    querystring_schema,
)
from kensho.http.routing import Routes
from kensho.http.schemas.catalog import EpisodeIdPathSchema
from kensho.http.schemas.playback import BandwidthViewSchema, HeartbeatSchema
from kensho.http.schemas.streams import StreamQuerySchema, StreamResponseSchema

__all__ = ["add_stream_routes"]

_MAX_ERRORS = 20


def _json(body: Any, status: int = 200) -> web.Response:
    resp = web.Response(body=orjson.dumps(body), status=status, content_type="application/json")
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


def _load(schema: ma.Schema, data: Any, *, status: int) -> dict[str, Any]:
    """Validate with a marshmallow schema; a failure is a problem naming each field."""
    try:
        loaded: dict[str, Any] = schema.load(data if isinstance(data, dict) else {"_": data})
    except ma.ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"body": exc.messages}
        errors = [
            {"field": str(k)[:64], "message": str(v[0] if isinstance(v, list) else v)[:200]}
            for k, v in list(messages.items())[:_MAX_ERRORS]
        ]
        raise ValidationFailed(
            f"{errors[0]['field']}: {errors[0]['message']}", errors=errors, status=status
        ) from None
    return loaded


@operation(
    "A stream URL for an episode, at the requested or best-fitting quality",
    tags=["streams"],
    response=StreamResponseSchema,
    auth="session",
    errors=(403, 404, 429, 502, 503),
    description="Cached per session and episode for less than the upstream stream token's life; "
    "a 429 names the account's active streams.",
)
@match_info_schema(EpisodeIdPathSchema)
@querystring_schema(StreamQuerySchema)
async def stream(request: web.Request) -> web.Response:
    plain = bearer_token(request)
    path = _load(EpisodeIdPathSchema(), dict(request.match_info), status=400)
    query = _load(StreamQuerySchema(), dict(request.query), status=400)
    playback = request.app.get(PLAYBACK)
    if playback is None:
        raise ServiceUnavailable("Streaming is not available yet.")
    body = await playback.stream(
        plain, caller_of(request), path["id"], query["quality"], query["bandwidth_kbps"]
    )
    return _json(body)


@operation(
    "Stop playing an episode: release its stream",
    tags=["streams"],
    status=204,
    auth="session",
    errors=(503,),
    description="Releases the upstream stream token at once, freeing one of the account's "
    "concurrent streams. Idempotent: 204 whether or not a stream was held.",
)
@match_info_schema(EpisodeIdPathSchema)
async def stop_stream(request: web.Request) -> web.Response:
    plain = bearer_token(request)
    path = _load(EpisodeIdPathSchema(), dict(request.match_info), status=400)
    playback = request.app.get(PLAYBACK)
    if playback is None:
        raise ServiceUnavailable("Streaming is not available yet.")
    await playback.stop(plain, path["id"])
    return web.Response(status=204, headers={"Cache-Control": "no-store"})


@operation(
    "Report what the player received (bandwidth monitoring)",
    tags=["streams"],
    status=204,
    auth="session",
    errors=(413, 415, 422),
)
@json_schema(HeartbeatSchema, example=HeartbeatSchema.example)
async def heartbeat(request: web.Request) -> web.Response:
    plain = bearer_token(request)
    playback = request.app.get(PLAYBACK)
    if playback is None:
        raise ServiceUnavailable("Streaming is not available yet.")
    await playback.auth.session(plain)  # only logged-in players feed the metrics
    data = _load(HeartbeatSchema(), await read_json(request), status=422)
    if not math.isfinite(data["seconds"]):
        raise ValidationFailed.field("seconds", "must be a finite number")
    request.app[BANDWIDTH].report(data["quality"], data["bytes"], data["seconds"])
    return web.Response(status=204)


async def bandwidth_view(request: web.Request) -> web.Response:
    """GET /admin/streams/bandwidth: per-quality heartbeat aggregates (admin, audited)."""
    admin.authorize_admin(request, "inspect", "streams/bandwidth")
    admin.audit_admin(request, "inspect", "streams/bandwidth", "ok")
    return _json({"qualities": request.app[BANDWIDTH].view()})


def add_stream_routes(app: web.Application) -> None:
    app[BANDWIDTH] = BandwidthMonitor(app[keys.METRICS].registry)
    r = Routes(app)
    r.get("/api/episodes/{id}/stream", stream, name="episode-stream")
    r.delete("/api/episodes/{id}/stream", stop_stream, name="episode-stream-stop")
    r.post("/api/streams/heartbeat", heartbeat, name="stream-heartbeat")
    r.get("/admin/streams/bandwidth", bandwidth_view, name="admin-stream-bandwidth")
    document_route(
        app,
        "GET",
        "/admin/streams/bandwidth",
        "Per-quality bandwidth reported by players",
        tags=["admin"],
        auth="admin",
        response=BandwidthViewSchema,
    )
