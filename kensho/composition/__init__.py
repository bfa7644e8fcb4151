"""The composition root: the one place that builds the services and the actor tree.

`build_app(config)` is what `kensho serve` runs: the HTTP app (`kensho.http.create_app`) with
the resources below, opened in this order and closed in reverse (aiohttp `cleanup_ctx`):

1. embedded PostgreSQL/Redis when unconfigured → the migrated PostgreSQL pool → the one Redis
   client → the two-tier cache (`stores`) → feature flags (`services.flags`);
2. the simulator when no upstream is configured → the Crunchyroll client (`upstream`);
3. the actor tree → catalog, auth/playback/breaker and search services (`services`);
4. cache warming → the catalog sync job (`jobs`).

So at shutdown the jobs stop first, then the services flush, then the actors drain, and the
pools close last. Tests compose their own lists from the same functions.
"""

from __future__ import annotations

from aiohttp import web

from kensho.composition import jobs, services, stores, upstream
from kensho.config import Config
from kensho.http.app import Resource, create_app

__all__ = ["build_app", "default_resources", "jobs", "services", "stores", "upstream"]


def default_resources() -> list[Resource]:
    """What `kensho serve` opens, in start order; each registers its own readiness check."""
    return [
        stores.embedded_servers(),
        stores.postgres(),
        stores.redis(),
        stores.cache(),
        services.flags(),
        upstream.simulator(),
        upstream.upstream(),
        services.root_actors(),
        services.catalog(),
        services.auth(),
        services.search(),
        jobs.cache_warming(),
        jobs.catalog_sync(),
    ]


def build_app(config: Config) -> web.Application:
    """The production app: every route, every resource."""
    return create_app(config, resources=default_resources())
