"""RFC 9457 problem details: the one place exceptions become HTTP error responses.

Handlers are looked up by walking the exception's class hierarchy (as Starlette does), so a
`CircuitOpen` uses the `KenshoError` mapping and an aiohttp `HTTPNotFound` the `HTTPException`
one; anything else is a 500 whose detail never shows internals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from aiohttp import web

from kensho import errors

__all__ = ["PROBLEM_BASE", "PROBLEM_CONTENT_TYPE", "problem_for", "problem_response"]

log = logging.getLogger("kensho.http.errors")

PROBLEM_BASE = "https://kensho.dev/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"
_INTERNAL_DETAIL = (
    "The server failed to handle this request; quote the request id when reporting it."
)

# Status -> the most general taxonomy class with that status (base classes come first).
_BY_STATUS: dict[int, type[errors.KenshoError]] = {}
for _name in errors.__all__:
    _cls = getattr(errors, _name)
    _BY_STATUS.setdefault(_cls.status, _cls)
_BY_STATUS[500] = errors.KenshoError


def problem_response(
    status: int,
    *,
    slug: str,
    title: str,
    detail: str,
    instance: str,
    request_id: str | None,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """Build an `application/problem+json` response with the house fields."""
    body: dict[str, Any] = dict(extra or {})
    body.update(
        type=PROBLEM_BASE + slug,
        title=title,
        status=status,
        detail=detail,
        instance=instance,
        request_id=request_id,
    )
    resp = web.Response(
        status=status, body=orjson.dumps(body), content_type=PROBLEM_CONTENT_TYPE, headers=headers
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _from_kensho(exc: BaseException, request: web.Request, rid: str | None) -> web.Response:
    assert isinstance(exc, errors.KenshoError)
    if exc.status == 500:
        return _internal(exc, request, rid)
    if exc.expose:
        detail = exc.detail
    else:  # e.g. actor failures: say what kind, keep the internals in the log
        log.warning("%s: %s", type(exc).__name__, exc.detail, extra={"status": exc.status})
        detail = exc.title
    return problem_response(
        exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=detail,
        instance=request.rel_url.raw_path,
        request_id=rid,
        extra=exc.extra,
        headers=exc.headers,
    )


def _from_http(exc: BaseException, request: web.Request, rid: str | None) -> web.Response:
    assert isinstance(exc, web.HTTPException)
    status = exc.status
    if status >= 500:
        return _internal(exc, request, rid)
    kind = _BY_STATUS.get(status)
    slug = kind.slug if kind else f"http-{status}"
    title = kind.title if kind else exc.reason
    detail = exc.text or exc.reason
    if detail == f"{status}: {exc.reason}":
        detail = _default_detail(status, request)
    headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
    return problem_response(
        status,
        slug=slug,
        title=title,
        detail=detail,
        instance=request.rel_url.raw_path,
        request_id=rid,
        headers=headers,
    )


def _default_detail(status: int, request: web.Request) -> str:
    if status == 404:
        return "No resource lives at this path."
    if status == 405:
        return f"{request.method[:16]} is not allowed here; see the Allow header."
    return f"The request was rejected with status {status}."


def _internal(exc: BaseException, request: web.Request, rid: str | None) -> web.Response:
    log.error(
        "unhandled %s on %s %s",
        type(exc).__name__,
        request.method,
        request.rel_url.raw_path[:256],
        exc_info=exc,
    )
    return problem_response(
        500,
        slug="internal",
        title="Internal Server Error",
        detail=_INTERNAL_DETAIL,
        instance=request.rel_url.raw_path,
        request_id=rid,
    )


_Handler = Callable[[BaseException, web.Request, "str | None"], web.Response]
_HANDLERS: dict[type[BaseException], _Handler] = {
    errors.KenshoError: _from_kensho,
    web.HTTPException: _from_http,
    Exception: _internal,
}


def problem_for(exc: BaseException, request: web.Request, request_id: str | None) -> web.Response:
    """The problem response for `exc`, chosen by the nearest mapped class in its MRO."""
    for cls in type(exc).__mro__:
        handler = _HANDLERS.get(cls)
        if handler is not None:
            return handler(exc, request, request_id)
    return _internal(exc, request, request_id)
