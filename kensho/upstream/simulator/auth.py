"""``POST /auth/v1/token`` and the bearer check: HS256 JWTs with ``benefits``, rotating refresh
tokens bound to ``device_id`` (also set as the browser's ``etp_rt`` cookie), the grants the public
clients send (``client_id``, ``password``, ``refresh_token``, ``refresh_token_profile_id``,
``etp_rt_cookie``), any well-formed client by default and the real error shapes."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from typing import Any

from aiohttp import web

from kensho.upstream.simulator.config import Account, well_formed_client
from kensho.upstream.simulator.responses import json_error, json_response
from kensho.upstream.simulator.state import STATE, Principal, RefreshGrant, SimState

__all__ = ["Principal", "decode_jwt", "encode_jwt", "principal_of", "token_handler"]

_MAX_FIELD = 512
MAX_REMEMBERED_BEARERS = 1024
#: the browser session cookie lives as long as the refresh token it carries (no expiry here)
ETP_RT_MAX_AGE = 30 * 86_400


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_jwt(claims: dict[str, Any], secret: str) -> str:
    header = _b64(b'{"alg":"HS256","typ":"JWT"}')
    payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    signing = f"{header}.{payload}".encode()
    sig = hmac.new(secret.encode(), signing, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(sig)}"


def decode_jwt(token: str, secret: str, now: float) -> dict[str, Any] | None:
    """The claims if the signature is ours and ``exp`` is in the future, else None."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 4096:
        return None
    try:
        expected = hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256)
        if not hmac.compare_digest(_b64(expected.digest()), parts[2]):
            return None
        claims = json.loads(_unb64(parts[1]))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int | float):
        return None
    return claims if claims["exp"] > now else None


def principal_of(request: web.Request) -> Principal | None:
    """The caller of an API request, or None when the bearer is missing, bad or expired.

    A verified token's principal is remembered (``SimState.bearers``, bounded): the HMAC and JSON
    decode ran on every request of a catalog sync. Expiry is still checked on every call.
    """
    state = request.app[STATE]
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    token = token.strip()
    known = state.bearers.get(token)
    if known is None:
        claims = decode_jwt(token, state.config.jwt_secret, float("-inf"))
        if claims is None:
            return None  # not remembered: hostile tokens cannot flush the verified ones
        known = (
            float(claims["exp"]),
            Principal(
                account_id=claims.get("account_id"),
                premium="cr_premium" in claims.get("benefits", []),
                country=str(claims.get("country", "US")),
                client_id=str(claims.get("client_id", "")),
                device_id=str(claims.get("device_id", "")),
                profile_id=claims.get("profile_id"),
                subject=str(claims.get("sub", "")),
            ),
        )
        if len(state.bearers) >= MAX_REMEMBERED_BEARERS:
            state.bearers.clear()
        state.bearers[token] = known
    expires, principal = known
    return principal if expires > state.config.clock() else None


def _client(request: web.Request, state: SimState, fields: dict[str, str]) -> str | None:
    """The calling app's client id, or None (answered 401 ``invalid_client``).

    Credentials come from ``Authorization: Basic`` (RS, CRD, yt-dlp) or from the form fields
    ``client_id``/``client_secret`` (multi-downloader-nx). Any well-formed pair is accepted
    unless ``strict_clients``; an allow-listed id must always bring its own secret.
    """
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic":
        if len(value) > 1024:
            return None
        try:
            raw = base64.b64decode(value.strip(), validate=True).decode()
        except (ValueError, binascii.Error):
            return None
        client_id, sep, secret = raw.partition(":")
        if not sep:
            return None
    elif "client_id" in fields:
        client_id, secret = fields["client_id"], fields.get("client_secret", "")
    else:
        return None
    if not well_formed_client(client_id, secret):
        return None
    known = state.config.clients.get(client_id)
    if known is None:
        return None if state.config.strict_clients else client_id
    return client_id if hmac.compare_digest(known.encode(), secret.encode()) else None


def _issue(
    state: SimState,
    client_id: str,
    device_id: str,
    device_type: str,
    account: Account | None,
    *,
    profile_id: str | None = None,
) -> tuple[dict[str, Any], str | None]:
    """The token answer and, for an account, the new refresh token (also the ``etp_rt``)."""
    now = int(state.config.clock())
    expires_in = state.config.expires_in
    country = account.country if account else "US"
    claims: dict[str, Any] = {
        "iat": now,
        "exp": now + expires_in,
        "jti": state.token(8),
        "client_id": client_id,
        "device_id": device_id,
        "country": country,
        "benefits": ["cr_premium", "cr_fan_pack"] if account and account.premium else [],
    }
    if account:
        profile = profile_id or account.profile_id
        claims.update(sub=account.account_id, account_id=account.account_id, profile_id=profile)
    else:
        claims["sub"] = str(uuid.UUID(int=state.rng.getrandbits(128), version=4))
    body: dict[str, Any] = {
        "access_token": encode_jwt(claims, state.config.jwt_secret),
        "expires_in": expires_in,
        "token_type": "Bearer",
        "scope": "offline_access",
        "country": country,
    }
    if account is None:
        return body, None
    refresh = state.token(24)
    profile = profile_id or account.profile_id
    state.refresh[refresh] = RefreshGrant(account, device_id, device_type, profile)
    body.update(refresh_token=refresh, account_id=account.account_id, profile_id=profile)
    return body, refresh


def _answer(body: dict[str, Any], refresh: str | None) -> web.Response:
    """The token JSON; an account login also sets the browser session cookie ``etp_rt``."""
    response = json_response(body)
    if refresh is not None:
        response.set_cookie(
            "etp_rt", refresh, max_age=ETP_RT_MAX_AGE, httponly=True, secure=False, samesite="Lax"
        )
    return response


def _bad_refresh() -> web.Response:
    return json_error(400, "auth.obtain_access_token.invalid_refresh_token", error="invalid_grant")


def _held_refresh(
    request: web.Request, state: SimState, fields: dict[str, str], device_id: str
) -> tuple[str, RefreshGrant] | None:
    """The refresh token a grant brings: the form field (bound to the login's device) or else
    the ``etp_rt`` cookie (a browser session: not bound, the browser's device id is unknown)."""
    body_token = fields.get("refresh_token", "")
    held = state.refresh.get(body_token) if body_token else None
    if held is not None:
        return (body_token, held) if held.device_id == device_id else None
    cookie = request.cookies.get("etp_rt", "")
    held = state.refresh.get(cookie) if 0 < len(cookie) <= _MAX_FIELD else None
    return (cookie, held) if held is not None else None


async def token_handler(request: web.Request) -> web.Response:
    state = request.app[STATE]
    form = (
        await request.post() if request.content_type == "application/x-www-form-urlencoded" else {}
    )
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    client_id = _client(request, state, fields)
    if client_id is None:
        return json_error(401, "auth.obtain_access_token.client_inactive", error="invalid_client")
    if any(len(v) > _MAX_FIELD for v in fields.values()):
        return json_error(400, "auth.obtain_access_token.invalid_request", error="invalid_request")
    grant = fields.get("grant_type", "")
    device_id = fields.get("device_id", "")
    device_type = fields.get("device_type", "")
    if grant == "client_id":
        return _answer(*_issue(state, client_id, device_id, device_type, None))
    if grant == "password":
        account = state.accounts.get(fields.get("username", "").strip().lower())
        password = fields.get("password", "")
        if account is None or not hmac.compare_digest(account.password.encode(), password.encode()):
            return json_error(
                401, "auth.obtain_access_token.invalid_credentials", error="invalid_grant"
            )
        return _answer(*_issue(state, client_id, device_id, device_type, account))
    if grant in ("refresh_token", "refresh_token_profile_id", "etp_rt_cookie"):
        if grant == "etp_rt_cookie":
            cookie = request.cookies.get("etp_rt", "")
            found = (cookie, state.refresh[cookie]) if cookie in state.refresh else None
        else:
            found = _held_refresh(request, state, fields, device_id)
        if found is None:
            return _bad_refresh()
        old, held = found
        profile = held.profile_id
        if grant == "refresh_token_profile_id":
            profile = fields.get("profile_id", "")
            if profile not in held.account.profile_ids:
                return json_error(
                    400, "auth.obtain_access_token.invalid_profile_id", error="invalid_request"
                )
        del state.refresh[old]
        device = device_id or held.device_id
        kind = device_type or held.device_type
        return _answer(*_issue(state, client_id, device, kind, held.account, profile_id=profile))
    return json_error(
        400, "auth.obtain_access_token.unsupported_grant_type", error="unsupported_grant_type"
    )
