"""Every typed `web.AppKey` / `web.RequestKey` of the application, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from kensho.config import Config
from kensho.http.lifecycle import Lifecycle
from kensho.http.loop_monitor import LoopMonitor
from kensho.http.readiness import ReadinessRegistry
from kensho.http.supervision import SupervisorLike
from kensho.observability.metrics import Metrics
from kensho.observability.tracing import Tracing

if TYPE_CHECKING:
    from aiohttp import ClientSession
    from redis.asyncio import Redis

    from kensho.cache import CacheService
    from kensho.http.middlewares.envelope import Envelope
    from kensho.jobs.catalog_sync import CatalogSyncJob
    from kensho.upstream.client import CrunchyrollClient

__all__ = [
    "ACCESS",
    "CACHE",
    "CATALOG_SYNC",
    "CONFIG",
    "DATABASE_DSN",
    "DB_POOL",
    "ENVELOPE",
    "HTTP_CLIENT",
    "LIFECYCLE",
    "LOOP_MONITOR",
    "METRICS",
    "READINESS",
    "REDIS",
    "REDIS_URL",
    "REQUEST_ID",
    "SUPERVISOR",
    "TRACING",
    "UPSTREAM",
    "UPSTREAM_URL",
]

CONFIG = web.AppKey("config", Config)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
READINESS = web.AppKey("readiness", ReadinessRegistry)
METRICS = web.AppKey("metrics", Metrics)
TRACING = web.AppKey("tracing", Tracing)
LOOP_MONITOR = web.AppKey("loop_monitor", LoopMonitor)
#: Wraps every route handler (kensho.http.routing.Routes adds routes through it).
ENVELOPE: web.AppKey[Envelope] = web.AppKey("envelope")
#: The root supervisor; set by the actor-tree resource when it opens.
SUPERVISOR: web.AppKey[SupervisorLike] = web.AppKey("supervisor")
#: Pools opened by later resources (kensho.store, kensho.cache, kensho.upstream).
DB_POOL: web.AppKey[Any] = web.AppKey("db_pool")  # aiopg.Pool (untyped package)
REDIS: web.AppKey[Redis] = web.AppKey("redis")
HTTP_CLIENT: web.AppKey[ClientSession] = web.AppKey("http_client")
#: Resolved service locations (embedded servers fill these in when the config leaves them unset).
DATABASE_DSN: web.AppKey[str] = web.AppKey("database_dsn")
REDIS_URL: web.AppKey[str] = web.AppKey("redis_url")
UPSTREAM_URL: web.AppKey[str] = web.AppKey("upstream_url")
#: Domain services opened by later resources; their owners may narrow these types.
CACHE: web.AppKey[CacheService] = web.AppKey("cache")
UPSTREAM: web.AppKey[CrunchyrollClient] = web.AppKey("upstream")
#: Background jobs.
CATALOG_SYNC: web.AppKey[CatalogSyncJob] = web.AppKey("catalog_sync")

REQUEST_ID = web.RequestKey("request_id", str)
#: Set by the envelope for the access log: (request id, JSON text of the route template).
ACCESS: web.RequestKey[tuple[str, str]] = web.RequestKey("access")
