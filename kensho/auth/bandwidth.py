"""Bandwidth monitoring from player heartbeats: bytes received over seconds, per quality.

Feeds the `streaming_bandwidth_bytes` counter and the `streaming_throughput_kbps` histogram in
the app's registry, and keeps a per-quality aggregate for `GET /admin/streams/bandwidth`.
Runs on the event loop only, so plain dicts need no lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from kensho.auth.quality import QUALITY_ORDER

__all__ = ["BandwidthMonitor", "QualityStats"]

_KBPS_BUCKETS = (250, 500, 1000, 1500, 2500, 4000, 6000, 8000, 12000, 20000, 50000)


@dataclass(slots=True)
class QualityStats:
    reports: int = 0
    bytes: int = 0
    seconds: float = 0.0
    #: reports whose throughput was below the quality's nominal bitrate (the player struggles)
    underruns: int = 0

    def as_dict(self) -> dict[str, Any]:
        kbps = (self.bytes * 8 / 1000 / self.seconds) if self.seconds > 0 else 0.0
        return {
            "reports": self.reports,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "average_kbps": round(kbps, 1),
            "underruns": self.underruns,
        }


#: nominal bitrates (bits/s) of the simulator's ladder, to count underruns
NOMINAL_BPS = {"1080p": 8_000_000, "720p": 4_000_000, "480p": 1_500_000, "360p": 800_000}


class BandwidthMonitor:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.bytes_total = Counter(
            "streaming_bandwidth_bytes",
            "Bytes players reported receiving, by quality",
            ["quality"],
            registry=registry,
        )
        self.throughput = Histogram(
            "streaming_throughput_kbps",
            "Throughput of one player heartbeat (kbit/s), by quality",
            ["quality"],
            buckets=_KBPS_BUCKETS,
            registry=registry,
        )
        self._stats: dict[str, QualityStats] = {q: QualityStats() for q in QUALITY_ORDER}

    def report(self, quality: str, nbytes: int, seconds: float) -> float:
        """Record one heartbeat (already validated); returns its throughput in kbit/s."""
        kbps = nbytes * 8 / 1000 / seconds
        self.bytes_total.labels(quality).inc(nbytes)
        self.throughput.labels(quality).observe(kbps)
        stats = self._stats[quality]
        stats.reports += 1
        stats.bytes += nbytes
        stats.seconds += seconds
        if kbps * 1000 < NOMINAL_BPS.get(quality, 0):
            stats.underruns += 1
        return kbps

    def view(self) -> dict[str, dict[str, Any]]:
        return {q: s.as_dict() for q, s in self._stats.items()}
