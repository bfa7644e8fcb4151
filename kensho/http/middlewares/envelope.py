"""The request envelope: request id, tracing, metrics, errors, deadline and cache default.

Eight concepts in one middleware frame, in the house order (outermost first): request id ->
tracing -> metrics -> errors -> rate limit -> input validation -> timeout -> cache control.
Each aiohttp middleware costs a partial call and a coroutine per request; as six frames the
chain cost more than the /health/live handler itself. Each concept keeps its own module
(`request_id`, `tracing`, `timeout`, `kensho.http.problems`, `kensho.observability.metrics`);
this frame only calls them in order.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from kensho.http.keys import REQUEST_ID
from kensho.http.lifecycle import Lifecycle
from kensho.http.middlewares.base import Handler, InputValidator, Middleware
from kensho.http.middlewares.rate_limit import RateLimiter
from kensho.http.middlewares.request_id import HEADER, RequestIds
from kensho.http.middlewares.timeout import Deadlines, deadline_of
from kensho.http.middlewares.tracing import finish_span, server_span
from kensho.http.problems import problem_for
from kensho.http.route_info import route_template
from kensho.observability.logging import request_id_var
from kensho.observability.metrics import Metrics
from kensho.observability.tracing import Tracing

__all__ = ["CLIENT_CLOSED", "envelope_middleware"]

#: Status recorded for a request cancelled before it answered (nginx's convention).
CLIENT_CLOSED = 499


def envelope_middleware(
    *,
    metrics: Metrics,
    lifecycle: Lifecycle,
    tracing: Tracing,
    request_timeout: float,
    cache_default: str = "no-store",
    deadlines: Deadlines | None = None,
    rate_limiter: RateLimiter | None = None,
    validate: InputValidator | None = None,
) -> Middleware:
    """The outermost middleware; responses that chose no cache policy get `cache_default`.

    `rate_limiter` admits or refuses the request, then `validate(request)` parses the inputs the
    route declared (it returns None at once for routes that declare none, else an awaitable):
    both inside the errors handling, so a refusal or a bad field is a problem+json, and both in
    this one frame, because a middleware frame each cost ~8 % of /health/live's throughput.
    """
    ids = RequestIds()
    deadlines = deadlines or Deadlines()
    lifecycle.cut_in_flight = deadlines.cut_all
    traced = tracing.enabled
    metrics.track_in_flight(lambda: lifecycle.in_flight)
    perf_counter = time.perf_counter

    async def answer(request: web.Request, handler: Handler, rid: str) -> web.StreamResponse:
        """Errors and the deadline: every exception leaves as problem+json."""
        try:
            if rate_limiter is not None:
                await rate_limiter.check(request)
            if validate is not None and (parsing := validate(request)) is not None:
                await parsing
            limit = deadline_of(request.match_info.handler, request_timeout)
            if limit is None:
                return await handler(request)
            return await deadlines.call(limit, request, handler)
        except web.HTTPException as exc:
            if exc.status < 400:  # redirects and the like are not errors
                exc.headers[HEADER] = rid
                raise
            return problem_for(exc, request, rid)
        except Exception as exc:
            return problem_for(exc, request, rid)

    @web.middleware
    async def envelope(request: web.Request, handler: Handler) -> web.StreamResponse:
        rid = ids.for_request(request)
        request[REQUEST_ID] = rid
        token = request_id_var.set(rid)
        start = perf_counter()
        lifecycle.in_flight += 1
        status = 500
        try:
            if traced:
                with server_span(tracing, request, rid) as span:
                    response = await answer(request, handler, rid)
                    finish_span(span, response.status)
            else:
                response = await answer(request, handler, rid)
            status = response.status
        except web.HTTPException as exc:
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = CLIENT_CLOSED
            if lifecycle.draining:
                lifecycle.abandoned_requests += 1
            raise
        finally:
            request_id_var.reset(token)
            lifecycle.in_flight -= 1
            metrics.observe_request(
                route_template(request), request.method, status, perf_counter() - start
            )
        if not response.prepared:
            headers = response.headers
            headers[HEADER] = rid
            if "Cache-Control" not in headers:
                headers["Cache-Control"] = cache_default
        return response

    return envelope
