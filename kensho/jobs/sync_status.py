"""What a catalog sync run reports: its status (readiness, /admin), its counters and metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["SyncMetrics", "SyncResult", "SyncStatus"]


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """What /health/ready and /admin show; replaced wholesale, so readers never see half."""

    loaded: bool = False
    series_count: int = 0
    running: bool = False
    last_run: datetime | None = None
    last_result: str | None = None  # complete | failed | cancelled | lost
    last_error: str | None = None
    pages_done: int = 0
    series_done: int = 0
    series_total: int | None = None

    @property
    def progress(self) -> float | None:
        """Fraction of the listing done in the current run (None when the total is unknown)."""
        if not self.series_total:
            return None
        return min(1.0, self.series_done / self.series_total)


@dataclass(slots=True)
class SyncResult:
    """Counters of one run."""

    run_id: str
    resumed_from: int = 0
    pages: int = 0
    series_seen: int = 0
    written: dict[str, int] = field(default_factory=dict)
    invalid: int = 0
    removed: int = 0
    complete: bool = False
    seconds: float = 0.0
    #: this attempt's `catalog_sync_runs.seq` (the catalog version, once complete)
    attempt: int | None = None

    @property
    def rows_written(self) -> int:
        return sum(self.written.values())


class SyncMetrics:
    """The sync's Prometheus series, on the app's registry (or a private one)."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        reg = registry if registry is not None else CollectorRegistry()
        self.running = Gauge("catalog_sync_running", "1 while a catalog sync runs", registry=reg)
        self.progress = Gauge(
            "catalog_sync_progress_ratio", "share of the listing done", registry=reg
        )
        self.series = Gauge("catalog_sync_series", "active series in PostgreSQL", registry=reg)
        self.last_success = Gauge(
            "catalog_sync_last_success_timestamp_seconds",
            "end of the last complete sync",
            registry=reg,
        )
        self.runs = Counter("catalog_sync_runs", "sync runs by result", ["result"], registry=reg)
        for result in ("complete", "failed", "cancelled", "lost"):
            # Exported at 0 from the start, so the first failure is an increase an alert sees.
            self.runs.labels(result)
        self.pages = Counter("catalog_sync_pages", "browse pages committed", registry=reg)
        self.rows = Counter(
            "catalog_sync_rows_written", "rows written by table", ["table"], registry=reg
        )
        self.invalid = Counter(
            "catalog_sync_invalid_items", "upstream items rejected", registry=reg
        )
        self.removed = Counter("catalog_sync_removed", "series marked removed", registry=reg)
