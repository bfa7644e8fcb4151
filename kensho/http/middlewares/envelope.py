"""The request envelope: request id, tracing, metrics, errors, deadline and cache default.

Eight concepts in one middleware frame, in the house order (outermost first): request id ->
tracing -> metrics -> errors -> rate limit -> input validation -> timeout -> cache control.
Each aiohttp middleware costs a partial call and a coroutine per request; as six frames the
chain cost more than the /health/live handler itself. Each concept keeps its own module
(`request_id`, `tracing`, `timeout`, `kensho.http.problems`, `kensho.observability.metrics`);
this frame only calls them in order.

What depends only on the route (its template, deadline and input parser) is worked out once
per route and kept in a `RoutePlan`; the hot path reads it with one dict lookup.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web
from multidict import istr

from kensho.http.keys import ACCESS, REQUEST_ID
from kensho.http.lifecycle import Lifecycle
from kensho.http.middlewares.base import Handler, InputParsers, Middleware
from kensho.http.middlewares.rate_limit import RateLimiter
from kensho.http.middlewares.request_id import HEADER, RequestIds, is_sane_request_id
from kensho.http.middlewares.timeout import Deadlines, deadline_of
from kensho.http.middlewares.tracing import finish_span, server_span
from kensho.http.problems import problem_for
from kensho.http.route_info import route_template
from kensho.observability.logging import request_id_var
from kensho.observability.metrics import Metrics
from kensho.observability.tracing import Tracing

__all__ = ["CLIENT_CLOSED", "RoutePlan", "envelope_middleware"]

#: Status recorded for a request cancelled before it answered (nginx's convention).
CLIENT_CLOSED = 499
_HEADER = istr(HEADER)
_CACHE_CONTROL = istr("Cache-Control")


class RoutePlan:
    """What the envelope needs to know about a route, worked out on its first request."""

    __slots__ = ("limit", "parse_inputs", "template", "template_json")

    def __init__(
        self,
        template: str,
        limit: float | None,
        parse_inputs: Callable[[web.Request], Awaitable[None]] | None,
    ) -> None:
        self.template = template
        self.template_json = orjson.dumps(template).decode()  # for the access log
        self.limit = limit
        self.parse_inputs = parse_inputs


def envelope_middleware(
    *,
    metrics: Metrics,
    lifecycle: Lifecycle,
    tracing: Tracing,
    request_timeout: float,
    cache_default: str = "no-store",
    deadlines: Deadlines | None = None,
    rate_limiter: RateLimiter | None = None,
    input_parsers: InputParsers | None = None,
) -> Middleware:
    """The outermost middleware; responses that chose no cache policy get `cache_default`.

    `rate_limiter` admits or refuses the request, then the route's input parser (from
    `input_parsers(handler)`, None for routes that declare no inputs) validates what it
    declared: both inside the errors handling, so a refusal or a bad field is a problem+json,
    and both in this one frame, because a middleware frame each cost ~8 % of /health/live's
    throughput.
    """
    deadlines = deadlines or Deadlines()
    lifecycle.cut_in_flight = deadlines.cut_all
    metrics.track_in_flight(lambda: lifecycle.in_flight)
    plans: dict[object, RoutePlan] = {}
    observe = metrics.observe_request
    perf_counter = time.perf_counter
    current_task = asyncio.current_task
    mint = RequestIds().mint

    def plan_for(request: web.Request) -> RoutePlan:
        match_info = request.match_info
        handler = match_info.handler
        plan = RoutePlan(
            route_template(request),
            deadline_of(handler, request_timeout),
            input_parsers(handler) if input_parsers is not None else None,
        )
        route = match_info.route
        if route.resource is not None:  # system routes (404, 405) are made per request
            plans[route] = plan
        return plan

    async def envelope(request: web.Request, handler: Handler) -> web.StreamResponse:
        rid = request.headers.get(_HEADER)
        if rid is None or not is_sane_request_id(rid):
            rid = mint()
        plan = plans.get(request.match_info.route) or plan_for(request)
        request[REQUEST_ID] = rid
        request[ACCESS] = (rid, plan.template_json)
        token = request_id_var.set(rid)
        start = perf_counter()
        lifecycle.in_flight += 1
        status = 500
        try:
            try:
                if rate_limiter is not None:
                    await rate_limiter.check(request)
                if plan.parse_inputs is not None:
                    await plan.parse_inputs(request)
                limit = plan.limit
                if limit is None:
                    response = await handler(request)
                else:
                    task: asyncio.Task[Any] = current_task()  # type: ignore[assignment]
                    bucket = deadlines.arm(task, limit)
                    cancelling = task.cancelling()
                    try:
                        response = await handler(request)
                    except asyncio.CancelledError:
                        deadlines.check_cancelled(task, cancelling, limit)
                        raise
                    finally:
                        deadlines.disarm(task, bucket)
            except web.HTTPException as exc:
                if exc.status < 400:  # redirects and the like are not errors
                    status = exc.status
                    exc.headers[_HEADER] = rid
                    raise
                response = problem_for(exc, request, rid)
            except Exception as exc:
                response = problem_for(exc, request, rid)
            status = response.status
        except asyncio.CancelledError:
            status = CLIENT_CLOSED
            if lifecycle.draining:
                lifecycle.abandoned_requests += 1
            raise
        finally:
            request_id_var.reset(token)
            lifecycle.in_flight -= 1
            observe(plan.template, request.method, status, perf_counter() - start)
        if not response.prepared:
            headers = response.headers
            headers[_HEADER] = rid
            if _CACHE_CONTROL not in headers:
                headers[_CACHE_CONTROL] = cache_default
        return response

    if not tracing.enabled:
        return web.middleware(envelope)

    async def traced(request: web.Request, handler: Handler) -> web.StreamResponse:
        """The envelope inside the request's server span (only when tracing exports)."""
        with server_span(tracing, request) as span:
            try:
                response = await envelope(request, handler)
            except web.HTTPException as exc:
                finish_span(span, exc.status, request.get(REQUEST_ID))
                raise
            except asyncio.CancelledError:
                finish_span(span, CLIENT_CLOSED, request.get(REQUEST_ID))
                raise
            finish_span(span, response.status, request.get(REQUEST_ID))
            return response

    return web.middleware(traced)
