"""Supervision test fixtures: a recorder of actor life and a factory of supervisors that are
stopped after the test (fast backoff, a 20 ms watchdog; options override them)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from actor_fakes import Recorder

from kensho.actors import ChildSpec, Supervisor


@pytest.fixture
async def rec() -> Recorder:
    return Recorder(asyncio.get_running_loop())


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., Supervisor]]:
    sups: list[Supervisor] = []

    def _make(specs: list[ChildSpec], **kw: Any) -> Supervisor:
        opts: dict[str, Any] = {
            "min_backoff": 0.001,
            "max_backoff": 0.01,
            "watchdog_interval": 0.02,
            "period": 30.0,
        }
        opts.update(kw)
        sup = Supervisor("root", specs, **opts)
        sups.append(sup)
        return sup

    yield _make
    for sup in sups:
        await sup.stop()
