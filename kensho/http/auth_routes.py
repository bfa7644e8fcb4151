"""Login, logout and me: parse the request, call `AuthService` (kensho.auth), render."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from kensho.auth.service import AuthService
from kensho.errors import ValidationFailed
from kensho.http import keys
from kensho.http.bearer import bearer_token, caller_of
from kensho.http.inputs import validated
from kensho.http.operations import json_schema, operation
from kensho.http.routing import Routes
from kensho.http.schemas.auth import LoginRequestSchema, LoginResponseSchema, MeSchema
from kensho.http.services import need

__all__ = ["add_auth_routes"]


def _service(request: web.Request) -> AuthService:
    return need(request.app, keys.AUTH, "Login")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _json(body: Any, status: int = 200) -> web.Response:
    resp = web.Response(body=orjson.dumps(body), status=status, content_type="application/json")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _clean_username(value: str) -> str:
    """NFC, trimmed; control characters refused (they have no place in a login name)."""
    name = unicodedata.normalize("NFC", value).strip()
    if not name or any(unicodedata.category(c).startswith("C") for c in name):
        raise ValidationFailed.field("username", "must be printable text")
    return name


@operation(
    "Log in with Crunchyroll credentials; returns a Kenshō session token",
    tags=["auth"],
    response=LoginResponseSchema,
    errors=(401, 413, 415, 422, 429, 502, 503),
)
@json_schema(LoginRequestSchema, example=LoginRequestSchema.example)
async def login(request: web.Request) -> web.Response:
    data = validated(request, "json")  # LoginRequestSchema, checked by the envelope
    username = _clean_username(data["username"])
    plain, session = await _service(request).login(username, data["password"], caller_of(request))
    return _json(
        {
            "token": plain,
            "expires_at": _iso(session.expires_at),
            "account": {
                "id": session.upstream.account_id or "",
                "premium": session.upstream.premium,
            },
        }
    )


@operation(
    "Log out: revoke the session and release its streams",
    tags=["auth"],
    status=204,
    auth="session",
    errors=(503,),
)
async def logout(request: web.Request) -> web.Response:
    plain = bearer_token(request)
    grants = await _service(request).logout(plain, caller_of(request))
    playback = request.app.get(keys.PLAYBACK)
    if playback is not None and grants:
        await playback.release(grants)
    return web.Response(status=204, headers={"Cache-Control": "no-store"})


@operation("The session the bearer token names", tags=["auth"], response=MeSchema, auth="session")
async def me(request: web.Request) -> web.Response:
    session = await _service(request).session(bearer_token(request))
    return _json(
        {
            "username": session.username,
            "account": {
                "id": session.upstream.account_id or "",
                "premium": session.upstream.premium,
            },
            "expires_at": _iso(session.expires_at),
        }
    )


def add_auth_routes(app: web.Application) -> None:
    r = Routes(app)
    r.post("/api/auth/login", login, name="auth-login")
    r.post("/api/auth/logout", logout, name="auth-logout")
    r.get("/api/auth/me", me, name="auth-me")
