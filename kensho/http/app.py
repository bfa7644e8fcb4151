"""The application factory: state in typed keys, the request envelope, routes.

`create_app` builds the HTTP side only and opens whatever `resources` it is given, in order;
what `kensho serve` opens (stores, services, actors, jobs) is decided by the composition root,
`kensho.composition`. The app is not started yet; tests may add routes (through
`kensho.http.routing.Routes`) before running it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware

from kensho.config import Config
from kensho.http import keys
from kensho.http.auth_routes import add_auth_routes
from kensho.http.breaker_routes import add_breaker_routes
from kensho.http.catalog_routes import add_catalog_routes
from kensho.http.client_identity import ClientIdentity
from kensho.http.console_routes import add_console_routes
from kensho.http.flag_routes import add_flag_routes
from kensho.http.inputs import input_parser_for
from kensho.http.lifecycle import Lifecycle
from kensho.http.loop_monitor import LoopMonitor
from kensho.http.middlewares.envelope import Envelope
from kensho.http.middlewares.rate_limit import RateLimiter, RouteClassLimiter
from kensho.http.openapi import setup_openapi
from kensho.http.readiness import ReadinessRegistry
from kensho.http.representations import Representations
from kensho.http.routes import add_foundation_routes
from kensho.http.routing import add_unmatched_route, check_routes
from kensho.http.search_routes import add_search_routes
from kensho.http.session_routes import add_session_routes
from kensho.http.stream_routes import add_stream_routes
from kensho.http.web_routes import add_web_routes
from kensho.observability.metrics import Metrics
from kensho.observability.timings import LOOP_LAG
from kensho.observability.tracing import Tracing
from kensho.ratelimit import FleetLimiter

__all__ = ["Resource", "create_app"]

#: One `cleanup_ctx` entry: opens before its `yield`, closes after (in reverse order).
Resource = Callable[[web.Application], AsyncIterator[None]]


def create_app(
    config: Config,
    *,
    resources: Sequence[Resource] = (),
    rate_limiter: RateLimiter | None = None,
    tracing: Tracing | None = None,
    api_routes: bool = True,
    middlewares: Sequence[Middleware] = (),
) -> web.Application:
    """Build the app; `resources` are opened in order at start and closed in reverse.

    `tracing` defaults to one built from the config (exporting only if `otel_endpoint` is set);
    it is instrumented here, before the `web.Application` exists, so the OpenTelemetry server
    middleware is in the app's chain. `middlewares` are ordinary aiohttp middlewares (third-party
    ones work unchanged): they run in aiohttp's chain, outside the route envelope, so they see
    the envelope's final answer (problem+json included). None by default: the chain costs a
    frame per middleware on every request.
    `api_routes=False` leaves out the product routes and the docs (foundation-only tests).
    """
    fleet = FleetLimiter(lease_max=config.rate_limit_lease, prefix=f"{config.redis_prefix}rl:")
    if rate_limiter is None:
        rate_limiter = RouteClassLimiter.from_config(config, fleet)
    identity = ClientIdentity(config.trusted_proxies, config.forwarded_header)
    lifecycle = Lifecycle()
    metrics = Metrics()
    tracing = tracing or Tracing.from_config(config)
    tracing.instrument()
    app = web.Application(client_max_size=config.client_max_size, middlewares=list(middlewares))
    app[keys.ENVELOPE] = Envelope(
        metrics=metrics,
        lifecycle=lifecycle,
        tracing=tracing,
        request_timeout=config.request_timeout,
        rate_limiter=rate_limiter,
        input_parsers=input_parser_for,
        identity=identity,
    )
    app[keys.CONFIG] = config
    app[keys.LIFECYCLE] = lifecycle
    app[keys.CLIENT_IDENTITY] = identity
    app[keys.RATE_LIMIT] = fleet
    app[keys.METRICS] = metrics
    app[keys.TRACING] = tracing
    app[keys.READINESS] = ReadinessRegistry(config.ready_cache_seconds)
    app[keys.LOOP_MONITOR] = LoopMonitor(uptime=lifecycle.uptime, observe=LOOP_LAG.observe)
    app[keys.REPRESENTATIONS] = Representations()

    metrics.track_connections(lambda: lifecycle.connections())  # noqa: PLW0108 - bound later
    metrics.track_rate_limit(fleet.stats)
    metrics.track_actors(lambda: sup.snapshot() if (sup := app.get(keys.SUPERVISOR)) else None)
    _track_readiness(metrics, app[keys.READINESS], lifecycle)

    app.cleanup_ctx.append(_observability)
    app.cleanup_ctx.extend(resources)
    add_foundation_routes(app)
    if api_routes:
        add_api_routes(app)
        setup_openapi(app)
    add_unmatched_route(app)
    app.on_startup.append(check_routes)
    return app


def add_api_routes(app: web.Application) -> None:
    """The product's routes, one module per concept."""
    add_catalog_routes(app)
    add_search_routes(app)
    add_auth_routes(app)
    add_stream_routes(app)
    add_breaker_routes(app)
    add_session_routes(app)
    add_console_routes(app)
    add_flag_routes(app)
    add_web_routes(app)  # root-level pages: before the catch-all


def _track_readiness(metrics: Metrics, readiness: ReadinessRegistry, lifecycle: Lifecycle) -> None:
    """Readiness on /metrics, for the not-ready, flapping and dependency-down alerts."""

    def ready() -> bool | None:
        last = readiness.last
        return None if last is None else last.ready and not lifecycle.draining

    def checks() -> list[tuple[str, bool, bool]]:
        last = readiness.last
        return [] if last is None else [(c.name, c.required, c.ok) for c in last.checks]

    metrics.track_readiness(ready, checks, lambda: readiness.transitions)


async def _observability(app: web.Application) -> AsyncIterator[None]:
    """Loop-lag ticker for liveness; flush traces last, off the loop."""
    monitor = app[keys.LOOP_MONITOR]
    monitor.start()
    yield
    await monitor.stop()
    await asyncio.to_thread(app[keys.TRACING].shutdown)
