"""Readiness checks: one `ReadinessCheck` per dependency, evaluated together and cached.

A resource registers its check when it opens (`registry.add(...)`). Results are cached for
`cache_seconds` and concurrent probes share one evaluation, so probes cannot hammer a database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["CheckResult", "ReadinessCheck", "ReadinessRegistry", "ReadinessReport"]

Status = Literal["ready", "degraded", "not_ready"]


@dataclass(frozen=True, slots=True)
class ReadinessCheck:
    """`probe()` returns normally when the dependency is usable and raises otherwise."""

    name: str
    required: bool
    probe: Callable[[], Awaitable[object]]
    timeout: float = 2.0


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    required: bool
    ok: bool
    latency_ms: float
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": "ok" if self.ok else "failing",
            "required": self.required,
            "latency_ms": round(self.latency_ms, 3),
        }
        if self.error:
            out["error"] = self.error
        return out


@dataclass(frozen=True, slots=True)
class ReadinessReport:
    status: Status
    checks: tuple[CheckResult, ...]
    checked_at: float

    @property
    def ready(self) -> bool:
        return self.status != "not_ready"


class ReadinessRegistry:
    """The app's readiness checks with a short-lived shared result."""

    def __init__(self, cache_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._checks: dict[str, ReadinessCheck] = {}
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cached: ReadinessReport | None = None
        self._running: asyncio.Task[ReadinessReport] | None = None
        self.evaluations = 0
        #: The latest evaluation (never cleared), for `/metrics`; None before the first probe.
        self.last: ReadinessReport | None = None
        #: Flips between ready and not ready across evaluations (readiness flapping).
        self.transitions = 0

    def add(self, check: ReadinessCheck) -> None:
        self._checks[check.name] = check
        self._cached = None

    def remove(self, name: str) -> None:
        self._checks.pop(name, None)
        self._cached = None

    async def evaluate(self) -> ReadinessReport:
        """The cached report if fresh, else run every check once (shared by concurrent callers)."""
        cached = self._cached
        if cached is not None and self._clock() - cached.checked_at < self._cache_seconds:
            return cached
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._run_all())
        return await asyncio.shield(self._running)

    async def _run_all(self) -> ReadinessReport:
        self.evaluations += 1
        results = await asyncio.gather(*(_run(c) for c in self._checks.values()))
        if any(r.required and not r.ok for r in results):
            status: Status = "not_ready"
        elif all(r.ok for r in results):
            status = "ready"
        else:
            status = "degraded"
        report = ReadinessReport(status, tuple(results), self._clock())
        if self.last is not None and self.last.ready != report.ready:
            self.transitions += 1
        self._cached = self.last = report
        return report


async def _run(check: ReadinessCheck) -> CheckResult:
    start = time.perf_counter()
    error: str | None = None
    try:
        async with asyncio.timeout(check.timeout):
            await check.probe()
    except TimeoutError:
        error = f"no answer within {check.timeout:g}s"
    except Exception as exc:  # a failing dependency is data here, not a crash
        error = type(exc).__name__  # class only: messages may carry DSNs or hosts
    latency = (time.perf_counter() - start) * 1000
    return CheckResult(check.name, check.required, error is None, latency, error)
