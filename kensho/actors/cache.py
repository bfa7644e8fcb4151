"""L1 in-process LRU with TTL in front of Redis; single-flight loading.

Placeholder: only the supervision plumbing and the `/admin/actors` summary; a later issue
fills in the behaviour.
"""

from __future__ import annotations

from typing import Any

from kensho.actors.base import KenshoActor
from kensho.actors.supervisor import ChildSpec
from kensho.config import Config

__all__ = ["CacheActor", "child_spec"]


class CacheActor(KenshoActor):
    """L1 in-process LRU with TTL in front of Redis; single-flight loading."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config

    def summary(self) -> dict[str, Any]:
        return {"implemented": False}


def child_spec(config: Config, name: str = "cache") -> ChildSpec:
    return ChildSpec(name, lambda: CacheActor(config), restart="permanent", shutdown_timeout=5.0)
