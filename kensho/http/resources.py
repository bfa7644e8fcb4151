"""Resources the app opens at start and closes at stop, each one `cleanup_ctx` entry.

A resource opens before its `yield`, registers its readiness check, and closes after. aiohttp
tears the entries down in reverse, so the order in `default_resources` is the start order:
pools first, then the actor tree (actors stop before the pools they use), then jobs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from aiohttp import web

from kensho.config import Config
from kensho.http import keys
from kensho.http.readiness import ReadinessCheck
from kensho.http.supervision import SupervisorLike

__all__ = ["Resource", "SupervisorFactory", "actor_tree", "default_resources"]

log = logging.getLogger("kensho.http.resources")

Resource = Callable[[web.Application], AsyncIterator[None]]
SupervisorFactory = Callable[[Config], SupervisorLike]


def actor_tree(factory: SupervisorFactory) -> Resource:
    """Start the root supervisor; stop it (reverse order, per-child timeouts) at cleanup."""

    async def actors(app: web.Application) -> AsyncIterator[None]:
        sup = factory(app[keys.CONFIG])
        await sup.start()
        app[keys.SUPERVISOR] = sup

        async def probe() -> None:
            if sup.failed:
                raise RuntimeError("root supervisor escalated")

        app[keys.READINESS].add(ReadinessCheck("actors", required=True, probe=probe))
        try:
            yield
        finally:
            abandoned = await sup.stop()
            app[keys.LIFECYCLE].abandoned.extend(_names(abandoned, prefix="actor"))

    return actors


def _names(abandoned: Any, *, prefix: str) -> list[str]:
    """Normalise what a stop() returned (None, a name, or names) into log-friendly items."""
    if not abandoned:
        return []
    items: Iterable[Any] = [abandoned] if isinstance(abandoned, str) else abandoned
    return [f"{prefix}:{item}" for item in items]


def default_resources(config: Config) -> list[Resource]:
    """What `kensho serve` opens, in start order: stores, upstream, actors, then jobs.

    Each registers its own `ReadinessCheck`; see `kensho.http.dependencies`.
    """
    from kensho.http import dependencies as deps
    from kensho.http.auth_routes import auth_services
    from kensho.http.search_routes import search_resource

    del config  # each resource reads its settings from the app's config
    return [
        deps.embedded_servers(),
        deps.postgres(),
        deps.redis_cache(),
        deps.simulator(),
        deps.upstream(),
        deps.root_actors(),
        auth_services(),
        search_resource(),
        deps.catalog_sync(),
    ]
