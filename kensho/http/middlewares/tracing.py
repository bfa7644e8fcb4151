"""Tracing: one server span per request, named by route template, child of inbound traceparent.

The envelope middleware opens the span around errors and the deadline, so it records the final
status; with tracing disabled it never calls in here.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from aiohttp import web
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from kensho.http.route_info import route_template
from kensho.observability.tracing import Tracing

__all__ = ["finish_span", "server_span"]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def server_span(tracing: Tracing, request: web.Request) -> AbstractContextManager[Span]:
    """The request's server span (a context manager that makes it current).

    The request id is not known yet (the envelope inside the span picks it): `finish_span`
    records it with the status.
    """
    route = route_template(request)
    method = request.method if request.method in _METHODS else "_OTHER"
    return tracing.tracer.start_as_current_span(
        f"{method} {route}",
        context=tracing.extract(request.headers),
        kind=SpanKind.SERVER,
        attributes={
            "http.request.method": method,
            "http.route": route,
            "url.path": request.path[:1024],
        },
    )


def finish_span(span: Span, status: int, request_id: str | None) -> None:
    """Record the response status and request id; a 5xx marks the span as an error."""
    span.set_attribute("http.response.status_code", status)
    if request_id is not None:
        span.set_attribute("kensho.request_id", request_id)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
