"""Login, logout and me (issue 4), and the resource that builds the auth and playback services.

`auth_services()` is a `cleanup_ctx` entry placed after the actor tree: it binds the breaker
gate of the upstream client to the breaker actor, builds `AuthService` / `PlaybackService`,
runs the stream-release sweeper, and at shutdown waits for pending releases before the actors
and pools close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import unicodedata
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any, cast

import marshmallow as ma
import orjson
from aiohttp import web

from kensho.actors.breaker import BreakerGate
from kensho.actors.handle import ActorHandle
from kensho.auth.audit import AuditWriter
from kensho.auth.bandwidth import BandwidthMonitor
from kensho.auth.crypto import load_session_cipher
from kensho.auth.limiter import LoginLimiter
from kensho.auth.playback import PlaybackService
from kensho.auth.service import AuthService, Caller
from kensho.auth.store import SessionStore
from kensho.errors import ServiceUnavailable, Unauthorized, ValidationFailed
from kensho.http import keys
from kensho.http.bodies import read_json
from kensho.http.openapi import json_schema, operation
from kensho.http.routing import Routes
from kensho.http.schemas.auth import LoginRequestSchema, LoginResponseSchema, MeSchema
from kensho.upstream.client import CrunchyrollClient

__all__ = [
    "AUTH",
    "BANDWIDTH",
    "PLAYBACK",
    "UPSTREAM",
    "add_auth_routes",
    "auth_services",
    "bearer_token",
    "caller_of",
    "supervisor_handle",
]

log = logging.getLogger(__name__)

#: The upstream client: the lead's `keys.UPSTREAM` once it exists, else this module's own key.
UPSTREAM: web.AppKey[CrunchyrollClient] = getattr(keys, "UPSTREAM", None) or web.AppKey(
    "upstream", CrunchyrollClient
)
AUTH = web.AppKey("auth_service", AuthService)
PLAYBACK = web.AppKey("playback_service", PlaybackService)
BANDWIDTH = web.AppKey("bandwidth_monitor", BandwidthMonitor)

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="kensho"'}
_MAX_AUTH_HEADER = 256


# -- helpers shared with stream_routes ---------------------------------------------------------


def bearer_token(request: web.Request) -> str:
    """The session token from `Authorization: Bearer …`; 401 when absent or malformed."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if len(header) > _MAX_AUTH_HEADER or scheme.lower() != "bearer" or len(token) != 43:
        raise Unauthorized("A valid session token is required.", headers=_CHALLENGE)
    return token


def caller_of(request: web.Request) -> Caller:
    agent = request.headers.get("User-Agent")
    return Caller(
        address=request.remote,
        user_agent=agent[:512] if agent else None,
        request_id=request.get(keys.REQUEST_ID),
    )


def supervisor_handle(app: web.Application, name: str) -> ActorHandle:
    sup = app.get(keys.SUPERVISOR)
    get = getattr(sup, "handle", None)
    if get is None:
        raise ServiceUnavailable("The actor system is not running.")
    return cast(ActorHandle, get(name))


def _service(request: web.Request) -> AuthService:
    service = request.app.get(AUTH)
    if service is None:
        raise ServiceUnavailable("Login is not available yet.")
    return service


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


# -- handlers ------------------------------------------------------------------------------------


@operation(
    "Log in with Crunchyroll credentials; returns a Kenshō session token",
    tags=["auth"],
    response=LoginResponseSchema,
    errors=(401, 413, 415, 422, 429, 502, 503),
)
@json_schema(LoginRequestSchema, example=LoginRequestSchema.example)
async def login(request: web.Request) -> web.Response:
    body = await read_json(request)
    try:
        data = LoginRequestSchema().load(body if isinstance(body, dict) else {"_": body})
    except ma.ValidationError as exc:
        fields = exc.messages if isinstance(exc.messages, dict) else {"body": exc.messages}
        errors = [
            {"field": str(k)[:64], "message": str(v[0] if isinstance(v, list) else v)[:200]}
            for k, v in list(fields.items())[:20]
        ]
        raise ValidationFailed(
            f"{errors[0]['field']}: {errors[0]['message']}", errors=errors
        ) from None
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
    playback = request.app.get(PLAYBACK)
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


# -- the resource --------------------------------------------------------------------------------


def auth_services(
    *,
    limiter_prefix: str | None = None,
    wall_clock: Callable[[], float] | None = None,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """`cleanup_ctx` entry: needs DB_POOL, SUPERVISOR and the upstream client; REDIS optional.

    Login failures are counted under `limiter_prefix` (default `KENSHO_REDIS_PREFIX` + "login:"),
    so every replica sharing the Redis shares the limit.
    """

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        config = app[keys.CONFIG]
        client = app[UPSTREAM]
        sessions = supervisor_handle(app, "session_pool")
        gate = client.gate
        if isinstance(gate, BreakerGate):
            gate.bind(supervisor_handle(app, "breaker"))
        clock_kw: dict[str, Any] = {"wall_clock": wall_clock} if wall_clock else {}
        cipher = await asyncio.to_thread(load_session_cipher, config)
        auth = AuthService(
            sessions=sessions,
            client=client,
            store=SessionStore(app[keys.DB_POOL], cipher),
            audit=AuditWriter(app[keys.DB_POOL]),
            limiter=LoginLimiter(
                app.get(keys.REDIS),
                prefix=limiter_prefix or f"{config.redis_prefix}login:",
                max_failures=config.login_max_failures,
                window=config.login_failure_window,
                **({"clock": wall_clock} if wall_clock else {}),
            ),
            **clock_kw,
        )
        playback = PlaybackService(auth=auth, sessions=sessions, client=client, **clock_kw)
        app[AUTH] = auth
        app[PLAYBACK] = playback
        sweeper = asyncio.create_task(_sweep_forever(playback, config.stream_sweep_interval))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await playback.drain()

    return ctx


async def _sweep_forever(playback: PlaybackService, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await playback.sweep()
        except Exception as exc:  # the actor may be restarting; try again next round
            log.warning("stream sweep failed: %s", type(exc).__name__)
