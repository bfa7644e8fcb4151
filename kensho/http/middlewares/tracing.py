"""Tracing: one server span per request, named by route template, child of inbound traceparent."""

from __future__ import annotations

from aiohttp import web
from opentelemetry.trace import SpanKind, Status, StatusCode

from kensho.http.keys import REQUEST_ID
from kensho.http.middlewares.base import Handler, Middleware
from kensho.http.route_info import route_template
from kensho.observability.tracing import Tracing

__all__ = ["tracing_middleware"]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def tracing_middleware(tracing: Tracing) -> Middleware:
    tracer = tracing.tracer

    @web.middleware
    async def trace(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = route_template(request)
        method = request.method if request.method in _METHODS else "_OTHER"
        with tracer.start_as_current_span(
            f"{method} {route}",
            context=tracing.extract(request.headers),
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "http.route": route,
                "url.path": request.path[:1024],
                "kensho.request_id": request.get(REQUEST_ID, ""),
            },
        ) as span:
            response = await handler(request)
            span.set_attribute("http.response.status_code", response.status)
            if response.status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            return response

    return trace
