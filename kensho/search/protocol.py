"""What `SearchService` and the search actor say to each other, owned by the search domain.

The messages the actor answers (`Rebuild`, `Published`, and the `BuildInfo` reply) and what
the service needs of the actor's handle (`IndexOwner`: the last published view and an ask)
live here, so `kensho.search` imports nothing from `kensho.actors`: the actor depends on
search (it wraps the index), the service reaches the actor through this protocol, and the
composition root hands it the supervisor's `ActorHandle`, which satisfies it structurally.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["BuildInfo", "IndexOwner", "Published", "Rebuild"]


@dataclass(frozen=True, slots=True)
class Rebuild:
    """Rebuild from the catalog. Requests older than the start of the last build are
    answered by that build (its data was read after they were made), so a burst coalesces."""

    requested_at: float = field(default_factory=time.monotonic)
    reason: str = "requested"


@dataclass(frozen=True, slots=True)
class Published:
    """What is published, once any build in progress is over (the first one after a start,
    too); `ServiceUnavailable` if no build succeeded."""


@dataclass(frozen=True, slots=True)
class BuildInfo:
    """The answer to `Rebuild` and `Published`: what is published now."""

    version: str
    entries: int
    source: str
    seconds: float
    rebuilt: bool


class IndexOwner(Protocol):
    """What the search service needs of whoever builds and publishes the index (the search
    actor's stable `ActorHandle`)."""

    @property
    def last_view(self) -> Any:
        """The newest published `SearchView`, else the last one any incarnation published,
        else None (nothing built yet)."""

    async def ask(self, message: Any, timeout: float | None = None) -> Any:  # noqa: ASYNC109
        """Send `message`, await its reply within `timeout` s (never blocking the loop)."""
