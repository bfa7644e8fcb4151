"""The request envelope: request id, tracing, metrics, errors, deadline and cache default.

Eight concepts in one frame, in the house order (outermost first): request id -> tracing ->
metrics -> errors -> rate limit -> input validation -> timeout -> cache control. Each concept
keeps its own module (`request_id`, `tracing`, `timeout`, `kensho.http.problems`,
`kensho.observability.metrics`); this frame only calls them in order.

The envelope wraps each route's handler where the route is added (`kensho.http.routing`), not
as an aiohttp middleware: aiohttp runs a middleware through a cached partial and its own
`_fix_request_current_app` frame, which cost 5-6 % of a cached catalog read on top of our
frame. What depends only on the route (its template, deadline and input parser) is worked out
on its first request and kept in the wrapper's `RoutePlan`.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web
from multidict import istr

from kensho.http.client_identity import ClientIdentity
from kensho.http.keys import ACCESS, CLIENT_ID, REQUEST_ID, TRACE_IDS
from kensho.http.lifecycle import Lifecycle
from kensho.http.middlewares.base import Handler, InputParsers
from kensho.http.middlewares.rate_limit import RateLimiter
from kensho.http.middlewares.request_id import HEADER, RequestIds, is_sane_request_id
from kensho.http.middlewares.timeout import Deadlines, deadline_of
from kensho.http.middlewares.tracing import current_span, name_span
from kensho.http.problems import problem_for
from kensho.http.route_info import route_template
from kensho.observability.logging import request_id_var
from kensho.observability.metrics import Metrics
from kensho.observability.tracing import Tracing, span_ids

__all__ = ["CLIENT_CLOSED", "Envelope", "RoutePlan", "is_enveloped"]

#: Status recorded for a request cancelled before it answered (nginx's convention).
CLIENT_CLOSED = 499
_HEADER = istr(HEADER)
_CACHE_CONTROL = istr("Cache-Control")
_RATELIMIT_POLICY = istr("RateLimit-Policy")
_RATELIMIT = istr("RateLimit")
_ENVELOPED = "__kensho_enveloped__"


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


def is_enveloped(handler: object) -> bool:
    """Whether `handler` is a route handler wrapped by `Envelope.wrap`."""
    return getattr(handler, _ENVELOPED, False) is True


class Envelope:
    """Wraps route handlers; responses that chose no cache policy get `cache_default`.

    `rate_limiter` admits or refuses the request, then the route's input parser (from
    `input_parsers(handler)`, None for routes that declare no inputs) validates what it
    declared: both inside the errors handling, so a refusal or a bad field is a problem+json.
    """

    def __init__(
        self,
        *,
        metrics: Metrics,
        lifecycle: Lifecycle,
        tracing: Tracing,
        request_timeout: float,
        cache_default: str = "no-store",
        deadlines: Deadlines | None = None,
        rate_limiter: RateLimiter | None = None,
        input_parsers: InputParsers | None = None,
        identity: ClientIdentity | None = None,
    ) -> None:
        self.metrics = metrics
        self.lifecycle = lifecycle
        self.tracing = tracing
        self.request_timeout = request_timeout
        self.cache_default = cache_default
        self.deadlines = deadlines or Deadlines()
        self.rate_limiter = rate_limiter
        self.input_parsers = input_parsers
        self.identity = identity or ClientIdentity(None)
        self.mint = RequestIds().mint
        lifecycle.cut_in_flight = self.deadlines.cut_all
        metrics.track_in_flight(lambda: lifecycle.in_flight)

    def plan(self, handler: object, template: str) -> RoutePlan:
        """The route plan of `handler` served under `template`."""
        parsers = self.input_parsers
        return RoutePlan(
            template,
            deadline_of(handler, self.request_timeout),
            parsers(handler) if parsers is not None else None,
        )

    def wrap(self, handler: Handler, *, template: str | None = None) -> Handler:
        """`handler` inside the envelope. `template` names the route in metrics and logs; by
        default it is the template of the resource the route is added to (read on the first
        request). The wrapper keeps the handler's attributes (its OpenAPI docs and schemas)."""
        if is_enveloped(handler):
            return handler
        # Everything the hot path touches is a local of this closure: no attribute lookups.
        lifecycle, deadlines, rate_limiter = self.lifecycle, self.deadlines, self.rate_limiter
        observe, mint, cache_default = self.metrics.observe_request, self.mint, self.cache_default
        perf_counter, current_task = time.perf_counter, asyncio.current_task
        identify = self.identity.resolve
        plan: RoutePlan | None = None if template is None else self.plan(handler, template)
        # `current_task()` without a loop asks `get_running_loop()`, a getpid() system call on
        # Python 3.11; with the loop that ran the last request it is a dict lookup.
        loop: asyncio.AbstractEventLoop | None = None

        async def enveloped(request: web.Request) -> web.StreamResponse:
            nonlocal plan, loop
            if plan is None:
                plan = self.plan(handler, route_template(request))
            rid = request.headers.get(_HEADER)
            if rid is None or not is_sane_request_id(rid):
                rid = mint()
            request[REQUEST_ID] = rid
            request[ACCESS] = (rid, plan.template_json)
            request[CLIENT_ID] = identify(request)
            usage = None
            token = request_id_var.set(rid)
            start = perf_counter()
            lifecycle.in_flight += 1
            status = 500
            try:
                try:
                    if rate_limiter is not None:
                        usage = await rate_limiter.check(request)
                    if plan.parse_inputs is not None:
                        await plan.parse_inputs(request)
                    limit = plan.limit
                    if limit is None:
                        response = await handler(request)
                    else:  # `Deadlines.call`, inlined: one coroutine frame fewer a request
                        task = current_task(loop) if loop is not None else None
                        if task is None:  # first request, or the app runs on another loop now
                            task = current_task()
                            assert task is not None
                            loop = task.get_loop()
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
            # (On a response the handler already sent, e.g. a stream, these change nothing.)
            headers = response.headers
            headers[_HEADER] = rid
            headers.setdefault(_CACHE_CONTROL, cache_default)
            if usage is not None:
                headers[_RATELIMIT_POLICY], headers[_RATELIMIT] = usage
            return response

        wrapped = enveloped if not self.tracing.enabled else self._traced(enveloped)
        functools.update_wrapper(wrapped, handler)
        setattr(wrapped, _ENVELOPED, True)
        return wrapped

    def _traced(self, enveloped: Handler) -> Handler:
        """The envelope, naming the server span it runs in (only when tracing exports).

        The span itself is opened by the OpenTelemetry aiohttp-server middleware, outside;
        here it gets the route template (its name and `http.route`) and the request id, and
        the request keeps the span's ids for the access log (written after the span ended).
        """

        async def traced(request: web.Request) -> web.StreamResponse:
            span = current_span()
            ids = span_ids(span)
            if ids is not None:
                request[TRACE_IDS] = ids
            try:
                return await enveloped(request)
            finally:
                if span.is_recording():
                    name_span(span, request, request.get(REQUEST_ID))

        return traced
