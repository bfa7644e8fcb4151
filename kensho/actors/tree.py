"""The root of the supervision tree: the four actors of the design, one_for_one."""

from __future__ import annotations

from collections.abc import Callable

from kensho.actors import breaker, cache, search, session_pool
from kensho.actors.supervisor import Supervisor
from kensho.config import Config

__all__ = ["build_root"]


def build_root(
    config: Config, on_escalate: Callable[[Supervisor, str], None] | None = None
) -> Supervisor:
    """Build (not start) the root supervisor; `await root.start()` inside the app's cleanup_ctx.

    `on_escalate` runs when the root gives up (too many restarts): the server fails readiness
    and exits non-zero so the orchestrator replaces the process.
    """
    children = [
        session_pool.child_spec(config),
        breaker.child_spec(config),
        cache.child_spec(config),
        search.child_spec(config),
    ]
    return Supervisor(
        "root",
        children,
        strategy="one_for_one",
        ask_timeout=config.ask_timeout,
        stash_limit=config.stash_limit,
        on_escalate=on_escalate,
    )
