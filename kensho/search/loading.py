"""One-time blocking loads that a stopping index build must not wait for.

The first build of a process loads pykakasi's dictionaries and parses the bundled catalog:
~0.5 s each on an idle core, but 3–7 s each on a loaded 2-core machine, and neither can be
interrupted. A search actor asked to stop meanwhile has a 5-second shutdown timeout, so the
load runs on a daemon thread of its own while the builder waits for it in short slices,
asking `cancelled()` between them: a stopping builder gives up at once (`BuildCancelled`) and
the load finishes in the background (its functions are cached per process, so the next build
gets its result).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["BuildCancelled", "load_cancellable"]

T = TypeVar("T")

#: how often a waiting builder asks `cancelled()`
POLL_SECONDS = 0.05


class BuildCancelled(Exception):
    """`build_index` gave up because its `cancelled()` said so (the actor is stopping)."""


def load_cancellable(load: Callable[[], T], cancelled: Callable[[], bool] | None, what: str) -> T:
    """`load()`'s result; `BuildCancelled` as soon as `cancelled()` says so while it runs.

    Without `cancelled` this is a plain call. `load()`'s own exception is raised here.
    """
    if cancelled is None:
        return load()
    if cancelled():
        raise BuildCancelled(f"cancelled before {what}")
    done = threading.Event()
    outcome: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(load())
        except BaseException as exc:  # handed to the waiting builder
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, name=f"search-load {what}", daemon=True).start()
    while not done.wait(POLL_SECONDS):
        if cancelled():
            raise BuildCancelled(f"cancelled while {what} was loading")
    if failure:
        raise failure[0]
    return outcome[0]
