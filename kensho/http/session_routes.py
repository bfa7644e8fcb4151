"""`POST /admin/sessions/revoke`: an operator ends a user's sessions on every replica.

The sessions are revoked in PostgreSQL, the revocation is broadcast (every replica answers 401
within a second), and their stream grants are released upstream (`AuthService.revoke_user`).
The body is validated after the admin check, as in `breaker_routes`.
"""

from __future__ import annotations

import unicodedata

import marshmallow as ma
import orjson
from aiohttp import web

from kensho.errors import ValidationFailed
from kensho.http import admin, keys
from kensho.http.bearer import caller_of
from kensho.http.bodies import read_json
from kensho.http.operations import document_route, json_schema
from kensho.http.routing import Routes
from kensho.http.schemas.admin import SessionRevokeResultSchema, SessionRevokeSchema
from kensho.http.services import need

__all__ = ["add_session_routes"]


def _username(body: object) -> str:
    try:
        data = SessionRevokeSchema().load(body if isinstance(body, dict) else {"_": body})
    except ma.ValidationError:
        raise ValidationFailed.field("username", "a username of 1 to 320 characters") from None
    name = unicodedata.normalize("NFC", data["username"]).strip()
    if not name or any(unicodedata.category(c).startswith("C") for c in name):
        raise ValidationFailed.field("username", "must be printable text")
    return name


async def revoke(request: web.Request) -> web.Response:
    """POST /admin/sessions/revoke {"username": …} (admin, audited)."""
    admin.authorize_admin(request, "revoke", "sessions")
    try:
        username = _username(await read_json(request))
    except ValidationFailed:
        admin.audit_admin(request, "revoke", "sessions", "invalid")
        raise
    auth = need(request.app, keys.AUTH, "Sessions")
    revoked, grants = await auth.revoke_user(username, caller_of(request))
    playback = request.app.get(keys.PLAYBACK)
    released = await playback.release(grants) if playback is not None and grants else 0
    admin.audit_admin(request, "revoke", "sessions", "ok")
    body = {"revoked": revoked, "released": released}
    resp = web.Response(body=orjson.dumps(body), content_type="application/json")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def add_session_routes(app: web.Application) -> None:
    Routes(app).post("/admin/sessions/revoke", revoke, name="admin-sessions-revoke")
    document_route(
        app,
        "POST",
        "/admin/sessions/revoke",
        "End every session of a user, on every replica",
        inputs=[json_schema(SessionRevokeSchema, example=SessionRevokeSchema.example)],
        response=SessionRevokeResultSchema,
        errors=(413, 415, 422, 503),
        tags=["admin"],
        auth="admin",
    )
