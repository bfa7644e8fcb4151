"""`/metrics` of every replica, scraped on a period while the load runs: the breaker's state,
cache lookups by tier, answers by status (429s among them), per replica and time."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bench.load.stack import Stack

__all__ = ["Scraper", "parse_metrics"]


def parse_metrics(text: str) -> dict[str, Any]:
    """The few series the report needs, from one exposition."""
    out: dict[str, Any] = {"breaker": "", "cache": {}, "statuses": {}, "ready": None}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels, value = sample.labels, sample.value
            if sample.name == "breaker_state" and value == 1:
                out["breaker"] = labels.get("state", "")
            elif sample.name in ("cache_lookups_total", "cache_lookups"):
                tier = labels.get("tier", "")
                out["cache"][tier] = out["cache"].get(tier, 0) + value
            elif sample.name == "request_duration_seconds_count":
                status = labels.get("status", "")
                out["statuses"][status] = out["statuses"].get(status, 0) + value
            elif sample.name == "kensho_ready" or sample.name == "readiness_ready":
                out["ready"] = value
    return out


class Scraper:
    """Scrape each replica every `period` seconds into `records` until stopped."""

    def __init__(self, stack: Stack, period: float = 2.0) -> None:
        self.stack = stack
        self.period = period
        self.records: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while True:
                started = time.monotonic()
                for replica in list(self.stack.replicas):
                    record: dict[str, Any] = {"t": round(time.time(), 3), "replica": replica.name}
                    try:
                        async with http.get(self.stack.replica_url(replica) + "/metrics") as resp:
                            record |= parse_metrics(await resp.text())
                            record["up"] = resp.status == 200
                    except (aiohttp.ClientError, TimeoutError, ValueError):
                        record["up"] = False
                    self.records.append(record)
                await asyncio.sleep(max(0.0, self.period - (time.monotonic() - started)))
