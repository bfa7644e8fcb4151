"""Metrics: request duration by route template, method and status; in-flight accounting."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from kensho.http.lifecycle import Lifecycle
from kensho.http.middlewares.base import Handler, Middleware
from kensho.http.route_info import route_template
from kensho.observability.metrics import Metrics

__all__ = ["CLIENT_CLOSED", "metrics_middleware"]

#: Status recorded for a request cancelled before it answered (nginx's convention).
CLIENT_CLOSED = 499


def metrics_middleware(metrics: Metrics, lifecycle: Lifecycle) -> Middleware:
    @web.middleware
    async def measure(request: web.Request, handler: Handler) -> web.StreamResponse:
        start = time.perf_counter()
        lifecycle.in_flight += 1
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = CLIENT_CLOSED
            if lifecycle.draining:
                lifecycle.abandoned_requests += 1
            raise
        finally:
            lifecycle.in_flight -= 1
            metrics.observe_request(
                route_template(request), request.method, status, time.perf_counter() - start
            )

    return measure
