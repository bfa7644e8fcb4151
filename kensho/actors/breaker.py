"""Circuit breaker for the Crunchyroll API: grants permits, records outcomes.

Placeholder: only the supervision plumbing and the `/admin/actors` summary; a later issue
fills in the behaviour.
"""

from __future__ import annotations

from typing import Any

from kensho.actors.base import KenshoActor
from kensho.actors.supervisor import ChildSpec
from kensho.config import Config

__all__ = ["BreakerActor", "child_spec"]


class BreakerActor(KenshoActor):
    """Circuit breaker for the Crunchyroll API: grants permits, records outcomes."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config

    def summary(self) -> dict[str, Any]:
        return {"implemented": False}


def child_spec(config: Config, name: str = "breaker") -> ChildSpec:
    return ChildSpec(name, lambda: BreakerActor(config), restart="permanent", shutdown_timeout=5.0)
