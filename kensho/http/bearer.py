"""Who is calling: the session token of `Authorization: Bearer …` and the caller's details."""

from __future__ import annotations

from aiohttp import web

from kensho.auth.service import Caller
from kensho.errors import Unauthorized
from kensho.http import keys

__all__ = ["bearer_token", "caller_of", "client_id"]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="kensho"'}
_MAX_AUTH_HEADER = 256


def bearer_token(request: web.Request) -> str:
    """The session token from `Authorization: Bearer …`; 401 when absent or malformed."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if len(header) > _MAX_AUTH_HEADER or scheme.lower() != "bearer" or len(token) != 43:
        raise Unauthorized("A valid session token is required.", headers=_CHALLENGE)
    return token


def client_id(request: web.Request) -> str:
    """The client id the envelope resolved (trusted proxies' forwarded address, or the peer)."""
    found = request.get(keys.CLIENT_ID)
    return found if found is not None else (request.remote or "unknown")


def caller_of(request: web.Request) -> Caller:
    """Client id, user agent (bounded) and request id, for the audit trail."""
    agent = request.headers.get("User-Agent")
    return Caller(
        address=client_id(request),
        user_agent=agent[:512] if agent else None,
        request_id=request.get(keys.REQUEST_ID),
    )
