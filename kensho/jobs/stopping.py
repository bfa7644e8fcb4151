"""Stopping a background task within a budget that really holds.

`asyncio.wait_for(job.stop(), budget)` around a `stop()` that does `task.cancel()` and then
`await task` under `suppress(CancelledError)` is not bounded: cancelling `stop()` only
re-cancels the task it awaits and then waits for that task to finish, however long it resists
(a driver that turns cancellation into its own error, a query that takes its time to cancel),
and the suppression hides that the budget ran out. `cancel_within` waits with `asyncio.wait`,
which returns at the deadline without waiting for the task, and lets its caller's own
cancellation through.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

__all__ = ["cancel_within"]

log = logging.getLogger(__name__)


async def cancel_within(task: asyncio.Task[Any] | None, budget: float | None, name: str) -> bool:
    """Cancel `task`, wait for it at most `budget` seconds (None: as long as it takes).

    True when it ended in time (how it ended is logged, not raised); False when it is still
    running, abandoned: the caller reports it (the process is exiting).
    """
    if task is None:
        return True
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=budget)
    if not done:
        log.warning("%s did not stop within %g s: abandoned", name, budget or 0.0)
        return False
    if not task.cancelled() and task.exception() is not None:
        log.warning("%s ended with an error while stopping", name, exc_info=task.exception())
    return True
