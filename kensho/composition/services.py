"""The actor tree and the domain services the handlers call, each built once, here.

Each function returns one `cleanup_ctx` entry. They need what earlier entries opened (the
pool, the cache, the upstream client, the supervisor) and find it under its typed key; a
service whose dependencies are absent (a test app without a database) is simply not built,
and its routes answer 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any, cast

from aiohttp import web

from kensho.actors.breaker import BreakerGate
from kensho.actors.cache import Attach
from kensho.actors.handle import ActorHandle
from kensho.actors.supervisor import Supervisor
from kensho.actors.tree import build_root
from kensho.admin import BreakerCollector, BreakerControl, CacheAdmin
from kensho.auth.audit import AuditWriter
from kensho.auth.bandwidth import BandwidthMonitor
from kensho.auth.crypto import load_session_cipher
from kensho.auth.grants import GrantStore
from kensho.auth.limiter import LoginLimiter
from kensho.auth.playback import PlaybackService
from kensho.auth.revocations import RevocationBus
from kensho.auth.service import AuthService
from kensho.auth.store import SessionStore
from kensho.catalog.export import CatalogExport
from kensho.catalog.service import CatalogService
from kensho.config import Config
from kensho.flags import FeatureFlags, FlagsCollector, parse_configured
from kensho.http import keys
from kensho.http.app import Resource
from kensho.http.readiness import ReadinessCheck
from kensho.http.supervision import SupervisorLike
from kensho.search.analytics import AnalyticsRecorder, QueryMinute
from kensho.search.ranker import RankingPool
from kensho.search.service import SearchService
from kensho.store.search_queries import add_query_counts

__all__ = [
    "SupervisorFactory",
    "actor_tree",
    "auth",
    "catalog",
    "child_handle",
    "flags",
    "root_actors",
    "search",
]

log = logging.getLogger("kensho.composition")

SupervisorFactory = Callable[[Config], SupervisorLike]


def child_handle(app: web.Application, name: str) -> ActorHandle | None:
    """The stable handle of the root supervisor's child `name`, or None without one."""
    sup = app.get(keys.SUPERVISOR)
    if not isinstance(sup, Supervisor) or name not in sup.children:
        return None
    return sup.handle(name)


def actor_tree(factory: SupervisorFactory) -> Resource:
    """Start the root supervisor; stop it (reverse order, per-child timeouts) at cleanup."""

    async def resource(app: web.Application) -> AsyncIterator[None]:
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

    return resource


def _names(abandoned: Any, *, prefix: str) -> list[str]:
    """Normalise what a stop() returned (None, a name, or names) into log-friendly items."""
    if not abandoned:
        return []
    items: Iterable[Any] = [abandoned] if isinstance(abandoned, str) else abandoned
    return [f"{prefix}:{item}" for item in items]


def root_actors() -> Resource:
    """The production tree (`kensho.actors.tree`), with the resolved DSN and the loop-owned
    cache service."""

    async def resource(app: web.Application) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()

        def factory(config: Config) -> SupervisorLike:
            return build_root(
                config,
                database_url=app.get(keys.DATABASE_DSN),
                cache=app.get(keys.CACHE),
                loop=loop,
            )

        async for _ in actor_tree(factory)(app):
            yield

    return resource


def catalog() -> Resource:
    """`CatalogService`, `CatalogExport` and `CacheAdmin` over the pool and the cache; the
    cache actor is attached to the service so invalidations go through it."""

    async def resource(app: web.Application) -> AsyncIterator[None]:
        pool, cache = app.get(keys.DB_POOL), app.get(keys.CACHE)
        if pool is None or cache is None:
            yield  # the catalog routes answer 503 until both exist
            return
        config = app[keys.CONFIG]
        app[keys.CATALOG] = CatalogService.from_config(config, pool, cache)
        app[keys.EXPORT] = CatalogExport.from_config(config, pool)
        handle = child_handle(app, "cache")
        if handle is not None:
            # Always: an actor built with the service but no loop publishes its view yet
            # cannot run an invalidation (503 "not attached") until it knows the loop.
            handle.tell(Attach(cache, asyncio.get_running_loop()))
        app[keys.CACHE_ADMIN] = CacheAdmin(cache, handle)
        yield

    return resource


def auth(
    *,
    limiter_prefix: str | None = None,
    redis_prefix: str | None = None,
    wall_clock: Callable[[], float] | None = None,
) -> Resource:
    """Login, sessions, playback and the breaker's operator surface.

    Needs DB_POOL, SUPERVISOR (session_pool and breaker children) and the upstream client;
    REDIS is optional. Binds the upstream client's breaker gate to the breaker actor, runs the
    stream-release sweeper and the revocation listener, and at shutdown releases the grants
    that are due, then waits for pending releases before the actors and pools close. Login
    failures are counted under `limiter_prefix` (default `KENSHO_REDIS_PREFIX` + "login:"), so
    every replica sharing the Redis shares the limit; revocations and stream-open locks use
    `redis_prefix` (default `KENSHO_REDIS_PREFIX`) the same way (docs/fleet.md).
    """

    async def resource(app: web.Application) -> AsyncIterator[None]:
        config = app[keys.CONFIG]
        client = app[keys.UPSTREAM]
        sessions = child_handle(app, "session_pool")
        if sessions is None:
            raise RuntimeError("the actor tree has no session_pool child")
        breaker = child_handle(app, "breaker")
        gate = client.gate if isinstance(client.gate, BreakerGate) else None
        # pragma below: `kensho serve`'s client always has a BreakerGate and its tree a breaker
        # child; a composition without either (a custom gate, a tree of its own) binds nothing
        if gate is not None and breaker is not None:  # pragma: no branch - see above
            gate.bind(breaker)
        _install_breaker(app, BreakerControl(breaker, gate))
        clock_kw: dict[str, Any] = {"wall_clock": wall_clock} if wall_clock else {}
        cipher = await asyncio.to_thread(load_session_cipher, config)
        redis = app.get(keys.REDIS)
        prefix = redis_prefix or config.redis_prefix
        grants = GrantStore(app[keys.DB_POOL], cipher)
        # The bus calls back into the service that publishes on it: bound once it exists.
        bus = RevocationBus(
            redis,
            f"{prefix}sessions:revoked",
            on_revoked=lambda key: service.forget(key),  # noqa: PLW0108 - bound below
            on_gap=lambda: service.recheck_all(),  # noqa: PLW0108 - bound below
        )
        service = AuthService(
            sessions=sessions,
            client=client,
            store=SessionStore(app[keys.DB_POOL], cipher),
            audit=AuditWriter(app[keys.DB_POOL]),
            limiter=LoginLimiter(
                redis,
                prefix=limiter_prefix or f"{config.redis_prefix}login:",
                max_failures=config.login_max_failures,
                max_per_address=config.login_max_failures_per_address,
                window=config.login_failure_window,
                clock=wall_clock or time.time,
            ),
            grants=grants,
            revocations=bus,
            **clock_kw,
        )
        bus.start()
        playback = PlaybackService(
            auth=service,
            sessions=sessions,
            client=client,
            grants=grants,
            redis=redis,
            lock_prefix=f"{prefix}stream-open:",
            lock_seconds=config.stream_open_lock,
            heartbeat_timeout=config.stream_heartbeat_timeout,
            **clock_kw,
        )
        limiter = service.limiter

        async def login_limiter() -> None:
            if limiter.fallback_active:
                raise RuntimeError("redis unreachable: failed logins are counted per replica")

        app[keys.READINESS].add(
            ReadinessCheck("login_limiter", required=False, probe=login_limiter)
        )
        app[keys.METRICS].track_login_limiter(limiter.stats)
        app[keys.AUTH] = service
        app[keys.PLAYBACK] = playback
        app[keys.BANDWIDTH] = BandwidthMonitor(app[keys.METRICS].registry)
        sweeper = asyncio.create_task(_sweep_forever(playback, config.stream_sweep_interval))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await bus.close()
            # The last sweep is best effort and bounded: its releases must not hold the drain.
            last = asyncio.ensure_future(playback.sweep())
            _done, late = await asyncio.wait({last}, timeout=min(5.0, config.shutdown_timeout))
            for task in late:
                task.cancel()
            if not late and not last.cancelled() and last.exception() is not None:
                log.warning("the last stream sweep failed: %s", type(last.exception()).__name__)
            await playback.drain()

    return resource


def _install_breaker(app: web.Application, control: BreakerControl) -> None:
    app[keys.BREAKER] = control
    app[keys.METRICS].registry.register(BreakerCollector(control))
    app[keys.READINESS].add(ReadinessCheck("upstream_breaker", required=False, probe=control.probe))


async def _sweep_forever(playback: PlaybackService, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await playback.sweep()
        except Exception as exc:  # the actor may be restarting; try again next round
            log.warning("stream sweep failed: %s", type(exc).__name__)


async def _close_recorder(recorder: AnalyticsRecorder | None) -> None:
    """Flush what the recorder holds. A function of its own because, inline after the `await`
    in the resource's `finally`, coverage.py (Python 3.11) reported the `if` as never run
    while the line under it ran: a measurement artefact the coverage gate would have kept."""
    if recorder is not None:
        await recorder.close()


def search(*, actor: str = "search", cache: bool = True) -> Resource:
    """`SearchService` over the supervisor's `actor` child, caching pages through the app's
    cache (unless `cache=False`), recording analytics when PostgreSQL is there (flushed at
    shutdown). Install after the actor tree: it closes first, while the pool still works."""

    async def resource(app: web.Application) -> AsyncIterator[None]:
        sup = cast(Supervisor, app[keys.SUPERVISOR])
        pool = app.get(keys.DB_POOL)
        recorder = None
        if pool is not None:

            async def write(batch: Sequence[QueryMinute]) -> None:
                await add_query_counts(
                    pool, [(r.minute, *r.key[:4], r.key.result_count, r.searches) for r in batch]
                )

            recorder = AnalyticsRecorder(write)
            recorder.start()
        config = app[keys.CONFIG]
        ranker = RankingPool(config.search_threads, config.search_max_waiting)
        service = SearchService(
            sup.handle(actor),
            cache=app.get(keys.CACHE) if cache else None,
            analytics=recorder,
            pool=pool,
            ranker=ranker,
            suggest_ttl=config.search_suggest_ttl,
            max_age=config.search_max_age,
            flags=app.get(keys.FLAGS),
        )
        await service.start()
        app[keys.SEARCH] = service

        async def probe() -> None:
            service.view()

        # Required: a replica with no index yet would refuse every search it is sent (the
        # listener still opens at once, so a slow first build never fails the start). After
        # the first publication the view always exists (restarts keep the previous one).
        app[keys.READINESS].add(ReadinessCheck("search", required=True, probe=probe))
        try:
            yield
        finally:
            await service.close()
            await _close_recorder(recorder)

    return resource


def flags(*, prefix: str | None = None) -> Resource:
    """Feature flags: the configured settings (`KENSHO_FLAGS`, validated at load), followed by
    the fleet's overrides in Redis when there is a Redis client (`KENSHO_REDIS_PREFIX` +
    "flags"; `prefix` overrides it for tests). On `/metrics` and, while Redis cannot be read,
    a non-required readiness check (the configured settings are in force: degraded, never
    unready). Install after the Redis client and before the services that evaluate flags."""

    async def resource(app: web.Application) -> AsyncIterator[None]:
        config = app[keys.CONFIG]
        service = FeatureFlags(
            configured=parse_configured(config.flags) if config.flags else None,
            redis=app.get(keys.REDIS),
            prefix=config.redis_prefix if prefix is None else prefix,
            refresh_interval=config.flags_refresh,
        )
        await service.start()
        app[keys.FLAGS] = service
        app[keys.METRICS].registry.register(FlagsCollector(service))

        async def probe() -> None:
            if service.sync.up is False:
                raise RuntimeError("redis unreachable: the configured flag settings apply")

        app[keys.READINESS].add(ReadinessCheck("flags", required=False, probe=probe))
        try:
            yield
        finally:
            await service.close()

    return resource
