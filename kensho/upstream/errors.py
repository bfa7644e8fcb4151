"""Typed failures of the Crunchyroll API, each mapped onto the service's error taxonomy.

`classify()` turns one upstream answer (status, headers, body) into `None` (usable) or one
`UpstreamFailure`. Each class says whether it counts against the circuit breaker
(`breaker_failure`) and whether an idempotent call may be retried (`retryable`): the upstream
being down or throttling us is a failure; the upstream correctly refusing *this* request
(401, 404, 420, a JSON error) proves it is healthy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from kensho.errors import (
    Forbidden,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    Timeout,
    Unauthorized,
    UpstreamError,
)
from kensho.upstream.headers import parse_retry_after

__all__ = [
    "ClientRejected",
    "InvalidCredentials",
    "InvalidRefreshToken",
    "TooManyActiveStreams",
    "UpstreamApiError",
    "UpstreamBlocked",
    "UpstreamDecodeError",
    "UpstreamFailure",
    "UpstreamForbidden",
    "UpstreamNotFound",
    "UpstreamPoolExhausted",
    "UpstreamRateLimited",
    "UpstreamTimeout",
    "UpstreamUnauthorized",
    "UpstreamUnavailable",
    "UpstreamUnreachable",
    "classify",
    "excerpt",
]

#: How much of an unusable body an exception keeps (for drift diagnosis, never for clients).
BODY_EXCERPT = 512


def excerpt(body: bytes, limit: int = BODY_EXCERPT) -> str:
    """A printable, bounded prefix of a raw body."""
    text = body[:limit].decode("utf-8", "replace")
    return text + ("…" if len(body) > limit else "")


class UpstreamFailure(UpstreamError):
    """Base of every failure talking to Crunchyroll; keeps status, URL and a body excerpt."""

    slug = "upstream"
    expose = True
    breaker_failure: ClassVar[bool] = False
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        detail: str = "",
        *,
        upstream_status: int | None = None,
        url: str = "",
        body: bytes = b"",
        code: str | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(detail, **kw)
        self.upstream_status = upstream_status
        self.url = url
        self.body = excerpt(body)
        self.code = code

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, upstream_status={self.upstream_status}, "
            f"code={self.code!r}, url={self.url!r})"
        )


class UpstreamApiError(UpstreamFailure):
    """A JSON error body (any of the three shapes), also when it came with a 2xx status."""

    slug = "upstream-api"


class ClientRejected(UpstreamApiError):
    """Our Basic client credentials were refused (`invalid_client`): a deployment problem."""

    slug = "upstream-client"


class UpstreamBlocked(UpstreamFailure):
    """Cloudflare's bot check ("Just a moment..."): retrying blindly makes it worse."""

    slug = "upstream-blocked"
    breaker_failure = True


class UpstreamDecodeError(UpstreamFailure):
    """The body was not what the endpoint promises (not JSON, wrong shape, too large)."""

    slug = "upstream-decode"


class UpstreamUnavailable(UpstreamFailure, ServiceUnavailable):
    """A 5xx, HTML or JSON; `overloaded` when Crunchyroll says so explicitly."""

    status, title, slug = 503, "Service Unavailable", "upstream-unavailable"
    breaker_failure = True
    retryable = True

    def __init__(self, detail: str = "", *, overloaded: bool = False, **kw: Any) -> None:
        super().__init__(detail, **kw)
        self.overloaded = overloaded


class UpstreamRateLimited(UpstreamFailure, ServiceUnavailable):
    """Crunchyroll throttles us (429): our caller did nothing wrong, so it is a 503."""

    status, title, slug = 503, "Service Unavailable", "upstream-rate-limited"
    breaker_failure = True
    retryable = True


class UpstreamUnreachable(UpstreamFailure, ServiceUnavailable):
    """No connection could be made or it broke before an answer."""

    status, title, slug = 503, "Service Unavailable", "upstream-unreachable"
    breaker_failure = True
    retryable = True


class UpstreamTimeout(UpstreamFailure, Timeout):
    """No answer within the call's deadline (or a 408)."""

    status, title, slug = 504, "Gateway Timeout", "upstream-timeout"
    breaker_failure = True
    retryable = True


class UpstreamPoolExhausted(ServiceUnavailable):
    """Every pooled connection stayed busy for the whole acquire timeout: shed load."""

    slug = "upstream-pool-exhausted"


class UpstreamUnauthorized(UpstreamFailure, Unauthorized):
    """A bearer token was refused (`*.invalid_auth_token`): refresh once, retry once."""

    status, title, slug = 401, "Unauthorized", "upstream-unauthorized"


class InvalidCredentials(UpstreamUnauthorized):
    """The password grant failed: wrong username or password."""

    slug = "invalid-credentials"


class InvalidRefreshToken(UpstreamUnauthorized):
    """The refresh token was rejected (expired, rotated, other device): log in again."""

    slug = "invalid-refresh-token"


class UpstreamForbidden(UpstreamFailure, Forbidden):
    """A JSON 403 (premium-only or region-locked content)."""

    status, title, slug = 403, "Forbidden", "upstream-forbidden"


class UpstreamNotFound(UpstreamFailure, NotFound):
    status, title, slug = 404, "Not Found", "upstream-not-found"


class TooManyActiveStreams(UpstreamFailure, RateLimited):
    """HTTP 420: the account has too many streams open; never retried automatically."""

    status, title, slug = 429, "Too Many Requests", "too-many-active-streams"

    def __init__(
        self, detail: str = "", *, active_streams: tuple[Mapping[str, Any], ...] = (), **kw: Any
    ) -> None:
        super().__init__(detail, **kw)
        self.active_streams = active_streams
        self.extra["active_streams"] = [
            {k: s.get(k) for k in ("contentId", "deviceType", "deviceSubtype", "episodeIdentity")}
            for s in active_streams
        ]


def _is_html(headers: Mapping[str, str], body: bytes) -> bool:
    ctype = headers.get("Content-Type", "").lower()
    head = body[:256].lstrip().lower()
    return "html" in ctype or head.startswith((b"<!doctype html", b"<html"))


def _json_error(doc: Any) -> tuple[str, str] | None:
    """(code, message) when `doc` matches one of the three error shapes of the API (§5)."""
    if not isinstance(doc, dict):
        return None
    if isinstance(doc.get("message"), str) and isinstance(doc.get("type"), str):
        return doc["type"], doc["message"]
    if isinstance(doc.get("code"), str) and isinstance(doc.get("context"), list):
        message = doc.get("error") or doc.get("message") or doc["code"]
        return doc["code"], str(message)
    error = doc.get("error")
    if isinstance(error, (str, int)) and not isinstance(error, bool):
        return str(error), str(doc.get("reason") or doc.get("message") or error)
    return None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    return parse_retry_after(headers.get("Retry-After"))


def classify(
    status: int, headers: Mapping[str, str], body: bytes, url: str, *, auth: bool = False
) -> UpstreamFailure | None:
    """The failure an upstream answer represents, or None when the body is usable.

    `auth` marks the token endpoint, where 400/401 mean bad credentials rather than a bad bearer.
    """
    base: dict[str, Any] = {"upstream_status": status, "url": url, "body": body}
    html = _is_html(headers, body)
    if html:
        text = body[:4096].lower()
        if status == 403 and b"just a moment" in text:
            return UpstreamBlocked("Crunchyroll's bot check blocked the request", **base)
        if status == 429:
            return UpstreamRateLimited(
                "Crunchyroll rate limit", retry_after=_retry_after(headers), **base
            )
        if status >= 500 or b"crunchyroll - overloaded" in text:
            overloaded = b"overloaded" in text
            return UpstreamUnavailable(
                "Crunchyroll is overloaded" if overloaded else f"Crunchyroll answered {status}",
                overloaded=overloaded,
                retry_after=_retry_after(headers),
                **base,
            )

    doc: Any = None
    if body.strip():
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            doc = None
    shape = _json_error(doc)
    code = shape[0] if shape else None
    message = shape[1] if shape else ""
    base["code"] = code

    if status == 420 or code == "TOO_MANY_ACTIVE_STREAMS":
        streams = doc.get("activeStreams") if isinstance(doc, dict) else None
        active = (
            tuple(s for s in streams if isinstance(s, dict)) if isinstance(streams, list) else ()
        )
        return TooManyActiveStreams(
            f"too many active streams ({len(active)} open)", active_streams=active, **base
        )
    if status == 429 or code == "4291":
        return UpstreamRateLimited(
            "Crunchyroll rate limit", retry_after=_retry_after(headers), **base
        )
    if status == 408:
        return UpstreamTimeout("Crunchyroll timed out the request", **base)
    if status >= 500:
        return UpstreamUnavailable(
            f"Crunchyroll answered {status}", retry_after=_retry_after(headers), **base
        )
    oauth = str(doc.get("error", "")) if isinstance(doc, dict) else ""
    if auth and status in (400, 401):
        if oauth == "invalid_client" or (code or "").endswith("client_inactive"):
            return ClientRejected("Crunchyroll rejected our API client", **base)
        if status == 400 and ("refresh" in (code or "") or oauth == "invalid_grant"):
            return InvalidRefreshToken("the refresh token was rejected", **base)
        return InvalidCredentials("invalid username or password", **base)
    if status == 401:
        return UpstreamUnauthorized("the Crunchyroll token was rejected", **base)
    if status == 404:
        return UpstreamNotFound("not found on Crunchyroll", **base)
    if status == 403:
        return UpstreamForbidden(message or "Crunchyroll refused access", **base)
    if status >= 400:
        return UpstreamApiError(message or f"Crunchyroll answered {status}", **base)
    if shape is not None:
        return UpstreamApiError(message or "Crunchyroll reported an error", **base)
    if not 200 <= status < 300:
        return UpstreamDecodeError(f"unexpected status {status}", **base)
    return None
