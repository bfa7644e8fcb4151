"""The root of the supervision tree: the four actors of the design, one_for_one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from kensho.actors import breaker, search, session_pool
from kensho.actors import cache as cache_actor
from kensho.actors.supervisor import Supervisor
from kensho.config import Config

if TYPE_CHECKING:
    from kensho.cache import CacheService

__all__ = ["build_root"]


def build_root(
    config: Config,
    on_escalate: Callable[[Supervisor, str], None] | None = None,
    *,
    database_url: str | None = None,
    cache: CacheService | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
) -> Supervisor:
    """Build (not start) the root supervisor; `await root.start()` inside the app's cleanup_ctx.

    `on_escalate` runs when the root gives up (too many restarts): the server fails readiness
    and exits non-zero so the orchestrator replaces the process. `database_url` is the resolved
    DSN (the embedded server's when the config leaves it unset); `cache` is the loop-owned
    `CacheService` the cache actor fronts, and `loop` the loop it lives on (so a restarted cache
    actor can reach it again).
    """
    search_deps = {"database_url": database_url} if database_url else {}
    children = [
        session_pool.child_spec(config),
        breaker.child_spec(config),
        cache_actor.child_spec(config, cache=cache, loop=loop),
        search.child_spec(config, **search_deps),
    ]
    return Supervisor(
        "root",
        children,
        strategy="one_for_one",
        ask_timeout=config.ask_timeout,
        stash_limit=config.stash_limit,
        mailbox_limit=config.mailbox_limit,
        on_escalate=on_escalate,
    )
