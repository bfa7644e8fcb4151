"""Crunchyroll tokens: one anonymous client token plus per-user sessions.

Placeholder: only the supervision plumbing and the `/admin/actors` summary; a later issue
fills in the behaviour.
"""

from __future__ import annotations

from typing import Any

from kensho.actors.base import KenshoActor
from kensho.actors.supervisor import ChildSpec
from kensho.config import Config

__all__ = ["SessionPoolActor", "child_spec"]


class SessionPoolActor(KenshoActor):
    """Crunchyroll tokens: one anonymous client token plus per-user sessions."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config

    def summary(self) -> dict[str, Any]:
        return {"implemented": False}


def child_spec(config: Config, name: str = "session_pool") -> ChildSpec:
    return ChildSpec(
        name, lambda: SessionPoolActor(config), restart="permanent", shutdown_timeout=5.0
    )
