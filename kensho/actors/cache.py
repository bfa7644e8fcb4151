"""The cache actor: the operator's face of the `CacheService` that lives on the event loop.

The service does the Redis I/O and owns L1 on the loop (rule 2). The actor publishes the
service's lock-free L1 reader as its view (rule 3: an L1 hit needs no thread hop), reports
`service.stats()` as its summary (size, hit ratio, evictions; read without the mailbox), and
handles admin messages. An invalidation is I/O, so the actor hands it to the loop and answers
when the loop is done (`ReplyLater`): its thread never waits for the loop, so it is never busy
longer than the asker waits, and a slow Redis cannot wedge it.

Prometheus series (`cache_lookups_total{tier}`, `cache_hit_ratio{tier}`) are read from the
service's lookup counts at scrape time (`Metrics.track_cache`, wired where it is built).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from kensho.actors.base import KenshoActor, ReplyLater
from kensho.actors.supervisor import ChildSpec
from kensho.cache import CacheService
from kensho.config import Config
from kensho.errors import ServiceUnavailable

__all__ = ["Attach", "CacheActor", "Invalidate", "PurgeExpired", "child_spec"]


@dataclass(frozen=True, slots=True)
class Attach:
    """Give the actor the loop-owned service (when the tree starts before the cache)."""

    service: CacheService
    loop: asyncio.AbstractEventLoop


@dataclass(frozen=True, slots=True)
class Invalidate:
    """Drop keys matching `pattern` here, in Redis and in every replica's L1; answers a count."""

    pattern: str


@dataclass(frozen=True, slots=True)
class PurgeExpired:
    """Drop every expired L1 entry now (the service also does it a slice per tick); answers
    how many went."""


class CacheActor(KenshoActor):
    """Admin messages for the cache; the hot path never comes here."""

    def __init__(
        self,
        config: Config,
        service: CacheService | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self._service = service
        self._loop = loop
        self.invalidations = 0

    def setup(self) -> None:
        if self._service is not None:
            self.publish(self._service.get_cached)

    def handle(self, message: Any) -> Any:
        if isinstance(message, Attach):
            self._service, self._loop = message.service, message.loop
            self.publish(message.service.get_cached)
            return None
        service, loop = self._service, self._loop
        if service is None or loop is None:
            raise ServiceUnavailable("The cache is not attached yet.", retry_after=1)
        if isinstance(message, Invalidate):
            self.invalidations += 1
            return ReplyLater(
                asyncio.run_coroutine_threadsafe(service.invalidate(message.pattern), loop)
            )
        if isinstance(message, PurgeExpired):
            # L1 has one writer, the loop: run the purge there too.
            return ReplyLater(asyncio.run_coroutine_threadsafe(service.purge_expired(), loop))
        return super().handle(message)

    def summary(self) -> dict[str, Any]:
        service = self._service
        if service is None:
            return {"attached": False}
        return {"attached": True, **service.stats(), "admin_invalidations": self.invalidations}


def child_spec(
    config: Config,
    name: str = "cache",
    *,
    cache: CacheService | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
    **_deps: Any,
) -> ChildSpec:
    """The cache actor's spec; `cache` is the app's service (else send `Attach` later)."""
    return ChildSpec(
        name, lambda: CacheActor(config, cache, loop), restart="permanent", shutdown_timeout=5.0
    )
