"""Tracing: the route's name on the request's server span.

The server span is the OpenTelemetry aiohttp-server middleware's (it runs in aiohttp's chain,
outside the envelope, and records the final status). Its own name uses the resource's
canonical path, which for unmatched requests is our catch-all pattern; the envelope renames it
after the route template, as metrics and logs label the request, and adds the request id. It
also keeps the span's ids on the request: the access line is written after the span ended, so
the log filter cannot find them then. With tracing disabled the envelope never calls in here.
"""

from __future__ import annotations

from aiohttp import web
from opentelemetry.trace import Span, get_current_span

from kensho.http.route_info import route_template

__all__ = ["current_span", "name_span"]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

#: The span the request runs in (the server span, or an invalid one when not traced).
current_span = get_current_span


def name_span(span: Span, request: web.Request, request_id: str | None) -> None:
    """Name `span` "METHOD /route/{template}" and record the route and request id."""
    route = route_template(request)
    method = request.method if request.method in _METHODS else "HTTP"
    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)
    if request_id is not None:
        span.set_attribute("kensho.request_id", request_id)
