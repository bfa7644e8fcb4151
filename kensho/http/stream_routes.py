"""Stream URLs with quality selection, player heartbeats and the bandwidth view.

Inputs are declared with apigami's decorators and validated once by the envelope
(`kensho.http.inputs`); handlers read them with `validated` and call `PlaybackService`.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from aiohttp import web

from kensho.auth.playback import PlaybackService
from kensho.errors import ValidationFailed
from kensho.http import admin, keys
from kensho.http.bearer import bearer_token, caller_of
from kensho.http.inputs import validated
from kensho.http.operations import (
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
from kensho.http.services import need

__all__ = ["add_stream_routes"]


def _json(body: Any, status: int = 200) -> web.Response:
    resp = web.Response(body=orjson.dumps(body), status=status, content_type="application/json")
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


def _playback(request: web.Request) -> PlaybackService:
    return need(request.app, keys.PLAYBACK, "Streaming")


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
    episode = validated(request, "match_info")["id"]
    query = validated(request, "querystring")
    body = await _playback(request).stream(
        plain, caller_of(request), episode, query["quality"], query["bandwidth_kbps"]
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
    episode = validated(request, "match_info")["id"]
    await _playback(request).stop(plain, episode)
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
    playback = _playback(request)
    session = await playback.auth.session(plain)  # only logged-in players feed the metrics
    data = validated(request, "json")  # HeartbeatSchema, checked by the envelope
    if not math.isfinite(data["seconds"]):
        raise ValidationFailed.field("seconds", "must be a finite number")
    await playback.heartbeat(session, data["episode_id"])  # keeps the episode's grant alive
    request.app[keys.BANDWIDTH].report(data["quality"], data["bytes"], data["seconds"])
    return web.Response(status=204)


async def bandwidth_view(request: web.Request) -> web.Response:
    """GET /admin/streams/bandwidth: per-quality heartbeat aggregates (admin, audited)."""
    admin.authorize_admin(request, "inspect", "streams/bandwidth")
    admin.audit_admin(request, "inspect", "streams/bandwidth", "ok")
    return _json({"qualities": request.app[keys.BANDWIDTH].view()})


def add_stream_routes(app: web.Application) -> None:
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
