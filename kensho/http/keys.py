"""Every typed `web.AppKey` / `web.RequestKey` of the application, in one place.

The composition root (`kensho.composition`) fills the resource and service keys when the app
starts; handlers read the services they call from here (`kensho.http.services.need`).
"""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web
from aiohttp.typedefs import Handler
from redis.asyncio import Redis
from webargs.aiohttpparser import AIOHTTPParser

from kensho.admin import BreakerControl, CacheAdmin
from kensho.auth.bandwidth import BandwidthMonitor
from kensho.auth.playback import PlaybackService
from kensho.auth.service import AuthService
from kensho.cache import CacheService
from kensho.catalog.export import CatalogExport
from kensho.catalog.service import CatalogService
from kensho.config import Config
from kensho.flags import FeatureFlags
from kensho.http.client_identity import ClientIdentity
from kensho.http.console_feed import ConsoleFeed
from kensho.http.lifecycle import Lifecycle
from kensho.http.loop_monitor import LoopMonitor
from kensho.http.readiness import ReadinessRegistry
from kensho.http.representations import Representations
from kensho.http.supervision import SupervisorLike
from kensho.http.webapp_bundle import WebBundle
from kensho.jobs.cache_warming import CacheWarmer
from kensho.jobs.sync_schedule import CatalogSyncJob
from kensho.observability.metrics import Metrics
from kensho.observability.tracing import Tracing
from kensho.ratelimit import FleetLimiter
from kensho.search.service import SearchService
from kensho.upstream.client import CrunchyrollClient

__all__ = [
    "ACCESS",
    "AUTH",
    "BANDWIDTH",
    "BREAKER",
    "CACHE",
    "CACHE_ADMIN",
    "CACHE_WARMER",
    "CATALOG",
    "CATALOG_SYNC",
    "CLIENT_ID",
    "CLIENT_IDENTITY",
    "CONFIG",
    "CONSOLE_FEED",
    "DATABASE_DSN",
    "DB_POOL",
    "ENVELOPE",
    "EXPORT",
    "EXTRA_OPERATIONS",
    "FLAGS",
    "INPUT_PARSER",
    "LIFECYCLE",
    "LOOP_MONITOR",
    "METRICS",
    "OPENAPI_DOCUMENT",
    "PLAYBACK",
    "RATE_LIMIT",
    "READINESS",
    "REDIS",
    "REDIS_URL",
    "REPRESENTATIONS",
    "REQUEST_ID",
    "SEARCH",
    "SUPERVISOR",
    "TRACE_IDS",
    "TRACING",
    "UPSTREAM",
    "UPSTREAM_URL",
    "VALIDATED",
    "WEB_BUNDLE",
    "RouteWrapper",
]


class RouteWrapper(Protocol):
    """What adding a route needs from the envelope (`kensho.http.routing.Routes`); typed
    here, beside its key, so this module imports nothing from the middlewares (which read
    their request keys from here)."""

    def wrap(self, handler: Handler, *, template: str | None = None) -> Handler: ...


# -- built by `create_app` ------------------------------------------------------------------
CONFIG = web.AppKey("config", Config)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
READINESS = web.AppKey("readiness", ReadinessRegistry)
METRICS = web.AppKey("metrics", Metrics)
TRACING = web.AppKey("tracing", Tracing)
LOOP_MONITOR = web.AppKey("loop_monitor", LoopMonitor)
#: Resolves a request's client id (the peer, or what trusted proxies forwarded).
CLIENT_IDENTITY = web.AppKey("client_identity", ClientIdentity)
#: The fleet-wide rate limiter (Redis bound at start by the composition root).
RATE_LIMIT = web.AppKey("rate_limit", FleetLimiter)
#: Wraps every route handler (kensho.http.routing.Routes adds routes through it).
ENVELOPE: web.AppKey[RouteWrapper] = web.AppKey("envelope")
#: The operator console's live feed (one per app, closed at shutdown).
CONSOLE_FEED = web.AppKey("console_feed", ConsoleFeed)
#: The built web front end (viewer and console pages, assets), read once.
WEB_BUNDLE = web.AppKey("web_bundle", WebBundle)
#: The catalog routes' memo tables (request -> representation, unpacked answers).
REPRESENTATIONS = web.AppKey("representations", Representations)
#: OpenAPI: operations described next to their routes (`document_route`), the built document
#: (at startup), and the parser that validates declared inputs (`kensho.http.inputs`).
EXTRA_OPERATIONS = web.AppKey("openapi_extra_operations", list)
OPENAPI_DOCUMENT = web.AppKey("openapi_document", dict)
INPUT_PARSER = web.AppKey("openapi_parser", AIOHTTPParser)

# -- resources, opened by the composition root ----------------------------------------------
#: Resolved service locations (embedded servers fill these in when the config leaves them unset).
DATABASE_DSN: web.AppKey[str] = web.AppKey("database_dsn")
REDIS_URL: web.AppKey[str] = web.AppKey("redis_url")
UPSTREAM_URL: web.AppKey[str] = web.AppKey("upstream_url")
DB_POOL: web.AppKey[Any] = web.AppKey("db_pool")  # aiopg.Pool (untyped package)
#: The process's one Redis client (one connection pool): cache, login limiter, pub/sub.
REDIS: web.AppKey[Redis] = web.AppKey("redis")
CACHE = web.AppKey("cache", CacheService)
UPSTREAM = web.AppKey("upstream", CrunchyrollClient)
#: The root supervisor; set by the actor-tree resource when it opens.
SUPERVISOR: web.AppKey[SupervisorLike] = web.AppKey("supervisor")

# -- domain services the handlers call ------------------------------------------------------
CATALOG = web.AppKey("catalog_service", CatalogService)
EXPORT = web.AppKey("catalog_export", CatalogExport)
SEARCH = web.AppKey("search_service", SearchService)
AUTH = web.AppKey("auth_service", AuthService)
PLAYBACK = web.AppKey("playback_service", PlaybackService)
BREAKER = web.AppKey("breaker_control", BreakerControl)
CACHE_ADMIN = web.AppKey("cache_admin", CacheAdmin)
#: Feature flags (OpenFeature over configuration plus Redis); search evaluates them.
FLAGS = web.AppKey("feature_flags", FeatureFlags)
#: What stream heartbeats report (metrics only).
BANDWIDTH = web.AppKey("bandwidth_monitor", BandwidthMonitor)

# -- background jobs ------------------------------------------------------------------------
CATALOG_SYNC = web.AppKey("catalog_sync", CatalogSyncJob)
CACHE_WARMER = web.AppKey("cache_warmer", CacheWarmer)

REQUEST_ID = web.RequestKey("request_id", str)
#: The client id (`kensho.http.client_identity`), set by the envelope for every request.
CLIENT_ID = web.RequestKey("client_id", str)
#: Parsed inputs by location ("querystring", "match_info", "json", ...); see `inputs.validated`.
VALIDATED = web.RequestKey("validated_inputs", dict)
#: Set by the envelope for the access log: (request id, JSON text of the route template).
ACCESS: web.RequestKey[tuple[str, str]] = web.RequestKey("access")
#: Set by the envelope only when tracing is on: (trace id, span id) in hex of the request's
#: server span, for the access log, which is written after that span has ended.
TRACE_IDS: web.RequestKey[tuple[str, str]] = web.RequestKey("trace_ids")
